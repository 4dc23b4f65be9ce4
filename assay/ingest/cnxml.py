"""Read an OpenStax CNXML book (collection files plus module folders) into one row per unit.

Layout expected under ``book_dir``::

    collections/<slug>.collection.xml   chapter structure (col:subcollection > col:module)
    modules/<mNNNNN>/index.cnxml        one module = one section of a chapter

Structure labels
    Every ``col:subcollection`` that directly lists modules is a chapter, numbered 1, 2, ... in
    collection order (a subcollection holding only subcollections, e.g. a "unit", is just a
    grouping and gets no number). ``chapter`` is ``"<n> <subcollection title>"``. Inside a
    chapter an introduction module (``document class="introduction"``) is section ``<n>.0``,
    the others ``<n>.1``, ``<n>.2``, ... in order; ``section`` is ``"<n>.<k> <module title>"``.
    Modules outside any subcollection are front matter (``"0 Front matter"``, sections
    ``0.1 ...``) when they come before the first chapter, and appendices (``"A Appendices"``,
    sections ``A.1 ...``) after it. A module listed by several collections is read once, under
    the first one; if a section label would repeat (two collections both have a "0.1 Preface"),
    the module id is appended (``"0.1 Preface [m64269]"``) so labels stay unique, because the
    train/dev/test split groups rows by section.

Kinds (``CNXML_KINDS``)
    ``objective``  one item of the module's learning objectives (``md:abstract`` list items);
                   the lead-in sentence of the abstract ("By the end of this section ...") is a
                   ``paragraph``.
    ``paragraph``  a body ``para`` (also each ``para`` of a ``quote``).
    ``list``       a body ``list``; items joined by ``"; "``.
    ``note``       a feature box (``note``: "Clear it up", "Link it up", chapter objectives, ...);
                   its title, paragraphs, lists, tables and equations form one unit.
    ``caption``    a figure's title and caption (the images themselves are not in the data).
    ``table``      a table: title, caption, then rows ``"cell | cell"`` joined by ``"; "``.
    ``equation``   a display ``equation`` standing on its own between paragraphs.
    ``exercise``   an ``exercise/problem``; ``unit_id`` ``"<module>#<exercise id>:exercise"``.
    ``solution``   an ``exercise/solution``; ``unit_id`` ``"<module>#<exercise id>:solution"``,
                   so an exercise and its solution share everything before the colon.
    ``summary``    a paragraph or list inside an end-of-module ``section class="summary"``.
    ``reference``  a paragraph or list inside a ``section class="references"``.
    ``glossary``   a glossary definition, as ``"<term>: <meaning>"``.
    ``footnote``   a ``footnote`` (taken out of its paragraph so the sentence reads on).

    Exercises inside review, self-check, critical-thinking and problems sections are still
    ``exercise``/``solution``. Section, figure, note and table titles are headings, not units,
    except that a note's, figure's or table's title is the start of that unit's text. ``media``
    and ``iframe`` carry no text and are ignored; MathML becomes its token texts joined with
    spaces. No text is emitted twice: a paragraph inside a note, exercise or solution belongs to
    that unit only. Figures and footnotes are always their own units (placed right after the
    unit that contains them); a table nested in a paragraph becomes its own ``table`` unit,
    while a table inside a note, exercise or solution stays in that unit's text (the question
    needs its data).

Unit ids
    ``"<module>#<element id>"`` when the element has an id (exercises and captions add
    ``:exercise``/``:solution``/``:caption`` to the exercise's or figure's id), otherwise
    ``"<module>:<kind>-<k>"`` with ``k`` counting that kind within the module. Ids depend only on
    the source, so they are stable across runs.

Error rows (``_ingest_error`` set, ``_raw`` holds the offending source, at most 1000 characters)
    a module listed in a collection whose ``index.cnxml`` is missing (one row per module, pointing
    at the collection line), a module that is not well-formed XML or not a CNXML document, a
    unit whose text is empty, an exercise without a problem, a solution outside an exercise, text
    lying loose between block elements, and unknown elements that carry text. A missing or broken
    collection file is a configuration error and raises :class:`AssayError` instead: without it
    there is no book structure to report against.

Text is only stripped of markup and whitespace-normalised (every run of Unicode whitespace,
including no-break spaces, becomes one space); mojibake and other oddities are left for the
cleaning stage.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from lxml import etree

from assay.errors import AssayError

CNXML_NS = "http://cnx.rice.edu/cnxml"
MDML_NS = "http://cnx.rice.edu/mdml"
COLLXML_NS = "http://cnx.rice.edu/collxml"
MATHML_NS = "http://www.w3.org/1998/Math/MathML"

UNIT_SCHEMA: dict[str, pl.DataType] = {
    "chapter": pl.String(),
    "section": pl.String(),
    "unit_id": pl.String(),
    "kind": pl.String(),
    "text": pl.String(),
    "_source_file": pl.String(),
    "_source_row": pl.Int64(),
    "_ingest_error": pl.String(),
    "_raw": pl.String(),
}
"""Columns and dtypes every course reader returns, in this order."""

CNXML_KINDS: frozenset[str] = frozenset(
    {
        "objective",
        "paragraph",
        "list",
        "note",
        "caption",
        "table",
        "equation",
        "exercise",
        "solution",
        "summary",
        "reference",
        "glossary",
        "footnote",
    }
)
"""Every value ``kind`` can take in a frame from :func:`read_cnxml_book`."""

RAW_LIMIT = 1000
"""``_raw`` is cut to this many characters: enough to find and fix the source, small in parquet."""

FRONT_MATTER_CHAPTER = "0 Front matter"
APPENDIX_CHAPTER = "A Appendices"

_WHITESPACE = re.compile(r"\s+")
_TITLE_END = "\x00"  # cannot occur in XML text, so it is a safe placeholder for a title's ":"
_INTRO_CLASS = re.compile(rb"<document\b[^>]*\bclass\s*=\s*[\"'][^\"']*\bintroduction\b")

# Elements that end a run of words: their text is kept apart from the neighbouring text.
_BLOCK = frozenset(
    {
        "para",
        "title",
        "caption",
        "item",
        "list",
        "entry",
        "row",
        "table",
        "tgroup",
        "thead",
        "tbody",
        "tfoot",
        "equation",
        "section",
        "note",
        "figure",
        "subfigure",
        "quote",
        "problem",
        "solution",
        "exercise",
        "definition",
        "meaning",
        "example",
        "seealso",
        "commentary",
        "preformat",
        "code",
        "footnote",
        "label",
        "newline",
        "space",
    }
)
# Elements without text worth keeping (images are not in the data; iframes are embeds).
_SILENT = frozenset({"media", "iframe", "image", "colspec", "spanspec", "param", "download"})
# Section classes whose paragraphs and lists get their own kind.
_SECTION_KINDS = {"summary": "summary", "references": "reference", "reference": "reference"}


def normalise_whitespace(text: str) -> str:
    """Collapse every run of Unicode whitespace to one space and strip the ends.

    Shared by all course readers so that the same source text gives the same ``text`` value
    whatever the format it came in.
    """
    return _WHITESPACE.sub(" ", text).strip()


def truncate_raw(raw: str) -> str:
    """Cut offending source text to ``RAW_LIMIT`` characters for the ``_raw`` column."""
    return raw[:RAW_LIMIT]


def units_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Build the unit frame from row dicts, giving repeated unit ids a ``~<n>`` suffix.

    Readers build ids so they cannot collide on valid input; the suffix is a safety net for
    broken input (e.g. duplicate XML ids), because downstream stages key on ``unit_id``.
    """
    seen: set[str] = set()
    for row in rows:
        uid = row.get("unit_id")
        if uid is None:
            continue
        candidate, n = uid, 1
        while candidate in seen:
            n += 1
            candidate = f"{uid}~{n}"
        seen.add(candidate)
        row["unit_id"] = candidate
    columns = {name: [row.get(name) for row in rows] for name in UNIT_SCHEMA}
    return pl.DataFrame(columns, schema=UNIT_SCHEMA)


@dataclass
class _Chapter:
    """A chapter as the collection describes it: a label and the module references in order."""

    key: str  # "1", "0" (front matter) or "A" (appendices): the prefix of section numbers
    label: str
    refs: list[tuple[str, etree._Element, Path, str]] = field(default_factory=list)
    # each ref: (module id, col:module element, collection file, collection slug)


def _local(element: etree._Element) -> str:
    """Local name of an element, or "" for comments and processing instructions."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def _namespace(element: etree._Element) -> str:
    tag = element.tag
    if not isinstance(tag, str) or not tag.startswith("{"):
        return ""
    return tag[1:].partition("}")[0]


def _raw_xml(element: etree._Element) -> str:
    return truncate_raw(etree.tostring(element, encoding="unicode", with_tail=False))


def _collection_path(book_dir: Path, slug: str) -> Path:
    return book_dir / "collections" / f"{slug}.collection.xml"


def _parse_collection(book_dir: Path, slug: str) -> tuple[Path, etree._Element]:
    """Parse one collection file; a missing or broken one is a configuration error."""
    path = _collection_path(book_dir, slug)
    if not path.is_file():
        raise AssayError(f"collection '{slug}' not found: {path} does not exist")
    try:
        root = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    except etree.XMLSyntaxError as exc:
        raise AssayError(f"{path}: collection is not well-formed XML: {exc}") from exc
    content = root.find(f"{{{COLLXML_NS}}}content")
    if content is None:
        raise AssayError(f"{path}: collection has no col:content element")
    return path, root


def _chapters(book_dir: Path, collections: list[str]) -> tuple[list[_Chapter], list[Path]]:
    """Turn the listed collections into chapters with their module references, in book order."""
    chapters: list[_Chapter] = []
    files: list[Path] = []
    for slug in collections:
        path, root = _parse_collection(book_dir, slug)
        files.append(path)
        front = _Chapter("0", FRONT_MATTER_CHAPTER)
        back = _Chapter("A", APPENDIX_CHAPTER)
        numbered: list[_Chapter] = []
        _visit_collection(root.find(f"{{{COLLXML_NS}}}content"), None, front, back, numbered, path, slug)
        chapters.extend(c for c in [front, *numbered, back] if c.refs)
    return chapters, files


def _visit_collection(
    content: etree._Element, chapter: _Chapter | None, front: _Chapter, back: _Chapter, numbered: list[_Chapter], path: Path, slug: str
) -> None:
    """Assign each col:module under ``content`` to its chapter, numbering chapters as met."""
    for child in content:
        name = _local(child)
        if name == "module":
            target = chapter or (back if numbered else front)
            target.refs.append((child.get("document") or "", child, path, slug))
        elif name == "subcollection":
            inner = child.find(f"{{{COLLXML_NS}}}content")
            if inner is None:
                continue
            own_chapter = chapter
            if inner.find(f"{{{COLLXML_NS}}}module") is not None:
                title = normalise_whitespace(child.findtext(f"{{{MDML_NS}}}title") or "")
                number = str(len(numbered) + 1)
                own_chapter = _Chapter(number, f"{number} {title}".rstrip())
                numbered.append(own_chapter)
            _visit_collection(inner, own_chapter, front, back, numbered, path, slug)


def modules_outside_collections(book_dir: Path, collections: list[str]) -> list[str]:
    """Module folders under ``modules/`` that none of ``collections`` lists, sorted.

    :func:`read_cnxml_book` returns no units for them (they belong to other editions); the
    ingest report lists them so a steward knows material was present but deliberately skipped.
    """
    book_dir = Path(book_dir)
    chapters, _ = _chapters(book_dir, collections)
    listed = {ref[0] for chapter in chapters for ref in chapter.refs}
    modules_dir = book_dir / "modules"
    if not modules_dir.is_dir():
        return []
    return sorted(p.name for p in modules_dir.iterdir() if p.is_dir() and p.name not in listed)


class _ModuleReader:
    """Walks one parsed module and collects its unit rows in document order."""

    def __init__(self, module_id: str, source_file: str, chapter: str, section: str) -> None:
        self.module_id = module_id
        self.base = {"chapter": chapter, "section": section, "_source_file": source_file}
        self.rows: list[dict[str, Any]] = []
        self.ordinals: Counter[str] = Counter()

    # -- emitting -------------------------------------------------------------------------
    def _emit(self, kind: str | None, unit_id: str, text: str | None, line: int | None, error: str | None = None, raw: str | None = None) -> None:
        self.rows.append(
            {
                **self.base,
                "unit_id": unit_id,
                "kind": kind,
                "text": text,
                "_source_row": line,
                "_ingest_error": error,
                "_raw": truncate_raw(raw) if error is not None and raw is not None else None,
            }
        )

    def _fallback_id(self, kind: str) -> str:
        self.ordinals[kind] += 1
        return f"{self.module_id}:{kind}-{self.ordinals[kind]}"

    def _id_for(self, element: etree._Element, kind: str, suffix: str = "") -> str:
        element_id = element.get("id")
        if element_id:
            return f"{self.module_id}#{element_id}{suffix}"
        return self._fallback_id(kind)

    def _error(self, element: etree._Element, kind: str | None, message: str, text: str | None = None) -> None:
        self._emit(kind, self._id_for(element, kind or "error"), text or None, element.sourceline, message, _raw_xml(element))

    # -- rendering ------------------------------------------------------------------------
    def _render(self, element: etree._Element, extract: frozenset[str], skip: etree._Element | None = None) -> tuple[str, list[etree._Element]]:
        """Plain text of ``element`` and the nested elements pulled out as their own units.

        ``extract`` names the nested elements that become separate units (their text is left
        out here); ``skip`` is one child rendered elsewhere (a glossary term).
        """
        parts: list[str] = []
        pulled: list[etree._Element] = []
        if _local(element) == "list":
            parts.append(self._list_text(element, pulled, extract))
        else:
            self._collect(element, parts, pulled, extract, skip)
        text = normalise_whitespace("".join(parts))
        # A title's separator is only wanted when something follows the title.
        return text.rstrip(_TITLE_END).rstrip().replace(_TITLE_END, ":"), pulled

    def _collect(self, element: etree._Element, parts: list[str], pulled: list[etree._Element], extract: frozenset[str], skip: etree._Element | None) -> None:
        if element.text:
            parts.append(element.text)
        for child in element:
            name = _local(child)
            if child is skip or not name:
                pass  # comments and processing instructions are not content
            elif name in extract and _namespace(child) == CNXML_NS:
                pulled.append(child)
            elif name == "math" and _namespace(child) == MATHML_NS:
                parts.append(" " + _math_text(child) + " ")
            elif name in _SILENT:
                pass
            elif name == "title":
                parts.append(" " + _with_title_separator(self._render(child, extract)[0]) + " ")
            elif name == "list":
                parts.append(" " + self._list_text(child, pulled, extract) + " ")
            elif name == "tgroup":
                parts.append(" " + self._tgroup_text(child, pulled, extract) + " ")
            elif name in _BLOCK:
                parts.append(" ")
                self._collect(child, parts, pulled, extract, None)
                parts.append(" ")
            else:
                self._collect(child, parts, pulled, extract, None)
            if child.tail:
                parts.append(child.tail)

    def _list_text(self, element: etree._Element, pulled: list[etree._Element], extract: frozenset[str]) -> str:
        """A list as its (optional) title followed by its non-empty items joined by "; "."""
        pieces: list[str] = []
        title = ""
        for child in element:
            name = _local(child)
            if name == "item":
                text, inner = self._render(child, extract)
                pulled.extend(inner)
                if text:
                    pieces.append(text)
            elif name == "title":
                title = self._render(child, extract)[0]
        body = "; ".join(pieces)
        return f"{_with_title_separator(title)} {body}" if title else body

    def _tgroup_text(self, element: etree._Element, pulled: list[etree._Element], extract: frozenset[str]) -> str:
        """Table rows as "cell | cell", joined by "; " (header rows first, as in the source)."""
        lines: list[str] = []
        for part in element:
            rows = [part] if _local(part) == "row" else [r for r in part if _local(r) == "row"]
            for row in rows:
                cells: list[str] = []
                for cell in row:
                    if _local(cell) != "entry":
                        continue
                    text, inner = self._render(cell, extract)
                    pulled.extend(inner)
                    cells.append(text)
                lines.append(" | ".join(cells))
        return "; ".join(lines)

    # -- units ----------------------------------------------------------------------------
    def _leaf(self, element: etree._Element, kind: str, extract: frozenset[str], suffix: str = "") -> None:
        """Emit ``element`` as one unit, then the figures/footnotes/tables pulled out of it."""
        text, pulled = self._render(element, extract)
        if text:
            self._emit(kind, self._id_for(element, kind, suffix), text, element.sourceline)
        elif not pulled:
            label = element.get("id") or f"at line {element.sourceline}"
            self._error(element, kind, f"{kind} {label} in module {self.module_id} is empty")
        for inner in pulled:
            self._block(inner, "")

    def _caption(self, figure: etree._Element) -> None:
        text, pulled = self._render(figure, frozenset({"footnote", "figure", "subfigure"}))
        if text:
            self._emit("caption", self._id_for(figure, "caption", ":caption"), text, figure.sourceline)
        for inner in pulled:
            self._block(inner, "")

    def _exercise(self, exercise: etree._Element) -> None:
        self.ordinals["exercise"] += 1
        ex_id = exercise.get("id")
        stem = f"{self.module_id}#{ex_id}" if ex_id else f"{self.module_id}:exercise-{self.ordinals['exercise']}"
        label = ex_id or f"at line {exercise.sourceline}"
        extract = frozenset({"figure", "footnote"})
        problems = [c for c in exercise if _local(c) == "problem"]
        solutions = [c for c in exercise if _local(c) == "solution"]
        if not problems:
            self._emit(
                "exercise", f"{stem}:exercise", None, exercise.sourceline, f"exercise {label} in module {self.module_id} has no problem", _raw_xml(exercise)
            )
        title = exercise.find(f"{{{CNXML_NS}}}title")
        title_text = self._render(title, extract)[0] if title is not None else ""
        for n, problem in enumerate(problems, start=1):
            uid = f"{stem}:exercise" if n == 1 else f"{stem}:exercise-{n}"
            text, pulled = self._render(problem, extract)
            if n == 1 and title_text and text:
                text = _with_title_separator(title_text).replace(_TITLE_END, ":") + " " + text
            if n > 1:
                self._emit(
                    "exercise",
                    uid,
                    text or None,
                    problem.sourceline,
                    f"exercise {label} in module {self.module_id} has more than one problem",
                    _raw_xml(problem),
                )
            elif text:
                self._emit("exercise", uid, text, problem.sourceline)
            else:
                self._emit("exercise", uid, None, problem.sourceline, f"exercise {label} in module {self.module_id} is empty", _raw_xml(problem))
            for inner in pulled:
                self._block(inner, "")
        for n, solution in enumerate(solutions, start=1):
            uid = f"{stem}:solution" if n == 1 else f"{stem}:solution-{n}"
            text, pulled = self._render(solution, extract)
            if text:
                self._emit("solution", uid, text, solution.sourceline)
            else:
                self._emit("solution", uid, None, solution.sourceline, f"solution of exercise {label} in module {self.module_id} is empty", _raw_xml(solution))
            for inner in pulled:
                self._block(inner, "")
        for child in exercise:
            name = _local(child)
            if name and name not in {"problem", "solution", "title", "label"} and normalise_whitespace("".join(child.itertext())):
                self._error(child, None, f"unexpected <{name}> in exercise {label} of module {self.module_id}", normalise_whitespace("".join(child.itertext())))

    def _glossary(self, glossary: etree._Element) -> None:
        for definition in glossary:
            name = _local(definition)
            if not name or name == "title":
                continue
            if name != "definition":
                text = normalise_whitespace("".join(definition.itertext()))
                if text:
                    self._error(definition, "glossary", f"unexpected <{name}> in glossary of module {self.module_id}", text)
                continue
            term = definition.find(f"{{{CNXML_NS}}}term")
            term_text = self._render(term, frozenset())[0] if term is not None else ""
            body, _ = self._render(definition, frozenset(), skip=term)
            label = definition.get("id") or f"at line {definition.sourceline}"
            if term_text and body:
                self._emit("glossary", self._id_for(definition, "glossary"), f"{term_text}: {body}", definition.sourceline)
            else:
                missing = "term" if not term_text else "meaning"
                self._error(definition, "glossary", f"glossary definition {label} in module {self.module_id} has no {missing}", term_text or body)

    def _block(self, element: etree._Element, section_class: str) -> None:
        """Dispatch one block-level element found directly in content, a section or a quote."""
        name = _local(element)
        if not name or name in _SILENT or name in {"title", "label", "newline", "space"}:
            return
        if _namespace(element) == MATHML_NS:
            name = "equation"  # bare MathML between paragraphs reads as a display equation
        text_kind = _SECTION_KINDS.get(section_class, "paragraph")
        if name == "para":
            self._leaf(element, text_kind, frozenset({"figure", "footnote", "table"}))
        elif name == "list":
            self._leaf(element, "list" if text_kind == "paragraph" else text_kind, frozenset({"figure", "footnote"}))
        elif name == "note":
            self._leaf(element, "note", frozenset({"figure", "footnote"}))
        elif name in {"figure", "subfigure"}:
            self._caption(element)
        elif name == "table":
            self._leaf(element, "table", frozenset({"figure", "footnote"}))
        elif name == "equation":
            self._leaf(element, "equation", frozenset({"figure", "footnote"}))
        elif name == "footnote":
            self._leaf(element, "footnote", frozenset())
        elif name == "exercise":
            self._exercise(element)
        elif name == "glossary":
            self._glossary(element)
        elif name in {"section", "quote"}:
            self._container(element, _section_class(element) or section_class)
        elif name in {"solution", "problem"}:
            text = self._render(element, frozenset())[0]
            self._error(element, "solution" if name == "solution" else "exercise", f"{name} outside an exercise in module {self.module_id}", text)
        else:
            text = self._render(element, frozenset())[0]
            if text:
                self._error(element, None, f"unexpected <{name}> element in module {self.module_id}", text)

    def _container(self, container: etree._Element, section_class: str) -> None:
        """Walk a content/section/quote element: block children only, loose text is an error."""
        self._loose_text(container, container.text, container.sourceline)
        for child in container:
            self._block(child, section_class)
            self._loose_text(container, child.tail, child.sourceline)

    def _loose_text(self, container: etree._Element, text: str | None, line: int | None) -> None:
        if text and text.strip():
            clean = normalise_whitespace(text)
            self._emit(
                None,
                f"{self.module_id}:loose-text-{line}",
                clean,
                line,
                f"text outside any paragraph in <{_local(container)}> of module {self.module_id}",
                text,
            )

    def _abstract(self, abstract: etree._Element) -> None:
        """Learning objectives: list items are objectives, the lead-in prose is a paragraph."""
        run: list[str] = []
        run_line: list[int | None] = []

        def add(text: str | None, line: int | None) -> None:
            if text:
                if not run_line and text.strip():
                    run_line.append(line)
                run.append(text)

        def flush() -> None:
            text = normalise_whitespace("".join(run))
            if text:
                self._emit("paragraph", self._fallback_id("paragraph"), text, run_line[0] if run_line else None)
            run.clear()
            run_line.clear()

        add(abstract.text, abstract.sourceline)
        for child in abstract:
            name = _local(child)
            if name == "list":
                flush()
                for item in child:
                    if _local(item) != "item":
                        continue
                    text, pulled = self._render(item, frozenset({"figure", "footnote"}))
                    if text:
                        self._emit("objective", self._fallback_id("objective"), text, item.sourceline)
                    else:
                        self._error(item, "objective", f"learning objective in module {self.module_id} is empty")
                    for inner in pulled:
                        self._block(inner, "")
            elif name == "para":
                flush()
                self._leaf(child, "paragraph", frozenset({"figure", "footnote", "table"}))
            elif name:
                add(" " + self._render(child, frozenset())[0] + " ", child.sourceline)
            add(child.tail, child.sourceline)
        flush()

    def read(self, root: etree._Element) -> None:
        abstract = root.find(f"{{{CNXML_NS}}}metadata/{{{MDML_NS}}}abstract")
        if abstract is not None:
            self._abstract(abstract)
        content = root.find(f"{{{CNXML_NS}}}content")
        if content is None:
            self._emit(None, self.module_id, None, root.sourceline, f"module {self.module_id} has no <content> element", _raw_xml(root))
        else:
            self._container(content, "")
        for glossary in root.findall(f"{{{CNXML_NS}}}glossary"):
            self._glossary(glossary)


def _with_title_separator(title: str) -> str:
    """A unit's leading title marked to be followed by ":" unless it ends in punctuation.

    Without a separator the title runs into the first sentence ("Farmer's Market Organic
    vegetables ..."), which reads as one garbled sentence. The mark becomes ":" in
    :meth:`_ModuleReader._render`, or disappears when nothing follows the title.
    """
    if not title or title[-1] in ".:?!;":
        return title
    return title + _TITLE_END


def _math_text(math: etree._Element) -> str:
    """MathML as its token texts joined by spaces: "profit = total revenue – total cost"."""
    return " ".join(t for t in (s.strip() for s in math.itertext()) if t)


def _section_class(section: etree._Element) -> str:
    for token in (section.get("class") or "").lower().split():
        if token in _SECTION_KINDS:
            return token
    return ""


def _title_of(root: etree._Element) -> str:
    title = root.find(f"{{{CNXML_NS}}}title")
    if title is None:
        title = root.find(f"{{{CNXML_NS}}}metadata/{{{MDML_NS}}}title")
    return normalise_whitespace("".join(title.itertext())) if title is not None else ""


def _error_lines(data: bytes, line: int | None) -> str:
    """The source line an XML error points at (the first 1000 characters when it names none)."""
    text = data.decode("utf-8", errors="replace")
    if line and line > 0:
        lines = text.split("\n")  # lxml counts lines by LF only
        if line <= len(lines):
            return truncate_raw(lines[line - 1].rstrip("\r"))
    return truncate_raw(text)


def read_cnxml_book(book_dir: Path, collections: list[str]) -> tuple[pl.DataFrame, list[Path]]:
    """Read the modules the listed collections name into unit rows, in book order.

    Returns the units (columns ``UNIT_SCHEMA``) and every file read - collection files, then
    module files in reading order - so the caller can hash exactly the inputs of this frame.
    Missing and unparseable modules become error rows rather than exceptions so that one bad
    module never hides the rest of the book; see the module docstring for all rules.
    """
    book_dir = Path(book_dir)
    if not collections:
        raise AssayError(f"{book_dir}: no collections given; name at least one collection slug")
    chapters, files = _chapters(book_dir, collections)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    rows: list[dict[str, Any]] = []
    intro_of: dict[str, bool] = {}  # module id -> is an introduction, for every module met so far
    used_sections: set[str] = set()
    for chapter in chapters:
        counter = 0
        for module_id, ref, collection_file, slug in chapter.refs:
            if not module_id:
                rows.append(
                    _row(
                        chapter.label,
                        None,
                        None,
                        None,
                        str(collection_file),
                        ref.sourceline,
                        f"module entry in collection {slug} has no document attribute",
                        _raw_xml(ref),
                    )
                )
                continue
            if module_id in intro_of:
                # Read already, under an earlier collection; it still takes its place in the numbering.
                if not (intro_of[module_id] and chapter.key not in {"0", "A"}):
                    counter += 1
                continue
            path = book_dir / "modules" / module_id / "index.cnxml"
            if not path.is_file():
                intro_of[module_id] = False
                counter += 1
                rows.append(
                    _row(
                        chapter.label,
                        None,
                        module_id,
                        None,
                        str(collection_file),
                        ref.sourceline,
                        f"module {module_id} is listed in collection {slug} but its index.cnxml is missing ({path})",
                        _raw_xml(ref),
                    )
                )
                continue
            data = path.read_bytes()
            files.append(path)
            is_intro = intro_of[module_id] = _INTRO_CLASS.search(data[:4096]) is not None
            number = "0" if is_intro and chapter.key not in {"0", "A"} else str(counter := counter + 1)
            try:
                root = etree.fromstring(data, parser)
            except etree.XMLSyntaxError as exc:
                line = exc.lineno if exc.lineno and exc.lineno > 0 else None
                rows.append(_row(chapter.label, None, module_id, None, str(path), line, f"not well-formed XML: {exc}", _error_lines(data, line)))
                continue
            if root.tag != f"{{{CNXML_NS}}}document":
                rows.append(
                    _row(
                        chapter.label,
                        None,
                        module_id,
                        None,
                        str(path),
                        root.sourceline,
                        f"module {module_id} is not a CNXML document (root element {root.tag})",
                        _raw_xml(root),
                    )
                )
                continue
            section = f"{chapter.key}.{number} {_title_of(root) or module_id}"
            if section in used_sections:
                section = f"{section} [{module_id}]"
            used_sections.add(section)
            reader = _ModuleReader(module_id, str(path), chapter.label, section)
            reader.read(root)
            rows.extend(reader.rows)
    return units_frame(rows), files


def _row(
    chapter: str | None, section: str | None, unit_id: str | None, kind: str | None, source_file: str, line: int | None, error: str, raw: str
) -> dict[str, Any]:
    """An error row for problems found before a module could be walked."""
    return {
        "chapter": chapter,
        "section": section,
        "unit_id": unit_id,
        "kind": kind,
        "text": None,
        "_source_file": source_file,
        "_source_row": line,
        "_ingest_error": error,
        "_raw": truncate_raw(raw),
    }
