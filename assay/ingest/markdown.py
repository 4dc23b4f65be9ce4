"""Read the project's own Markdown course (one file per chapter) into one row per unit.

Format (CommonMark, parsed with markdown-it-py)::

    # Chapter 1: Data and Evidence      chapter "1 Data and Evidence"
    intro paragraphs / lists            section "1.0 Introduction"
    ## 1.1 What Is a Dataset?           section "1.1 What Is a Dataset?"
    ### Learning objectives             the next list's items are objectives
    - one objective per item
    body paragraphs and lists
    ### Exercises                       numbered items are exercises
    1. question
    ### Solutions                       numbered items are solutions to the same-numbered exercise
    1. answer

Kinds (``MARKDOWN_KINDS``): ``objective`` (one per item of the list right after "Learning
objectives"; the first paragraph after that list ends the objectives), ``paragraph`` (a body
paragraph, also one inside a block quote), ``list`` (a body list, items joined by ``"; "``),
``exercise`` and ``solution`` (one per numbered item). The unit id is
``"<file stem>:<section number>:<kind>-<k>"``: for exercises and solutions ``k`` is the item's own
number, so ``ch01:1.1:exercise-2`` and ``ch01:1.1:solution-2`` pair up; for other kinds ``k``
counts that kind within the section. Error rows use ``"<file stem>:line-<n>"`` unless a better
id is known.

Error rows (``_ingest_error`` set, ``_raw`` = the offending source lines, at most 1000 characters):
content before the first chapter heading, a section heading outside a chapter, a chapter or
section heading that does not match the pattern (and content under it, which has no valid
section to belong to), a section numbered for another chapter, ``.0`` (reserved for the
introduction) or twice, an unknown ``###`` heading, any heading of level 4 or deeper, an empty
objective/exercise/solution item, an exercise number used twice in a section, exercises or
solutions given as a bullet list, a solution whose number has no exercise in its section, and
blocks the course format has no place for (code blocks, raw HTML).

Files are read as UTF-8 (a leading byte-order mark is ignored); a file that is not valid UTF-8
is an :class:`AssayError` naming the file and byte offset, because guessing an encoding would
silently change text. CRLF and CR line endings are normalised to LF, so line numbers match what
an editor shows. Text is only stripped of Markdown syntax and whitespace-normalised.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

from assay.errors import AssayError
from assay.ingest.cnxml import normalise_whitespace, truncate_raw, units_frame

MARKDOWN_KINDS: frozenset[str] = frozenset({"objective", "paragraph", "list", "exercise", "solution"})
"""Every value ``kind`` can take in a frame from :func:`read_markdown_course`."""

_CHAPTER = re.compile(r"^Chapter\s+(\d+)\s*[:.]\s*(\S.*)$", re.IGNORECASE)
_SECTION = re.compile(r"^(\d+)\.(\d+)\.?\s+(\S.*)$")
_SUBSECTIONS = {
    "learning objectives": "objectives",
    "objectives": "objectives",
    "exercises": "exercises",
    "solutions": "solutions",
}
_UNSUPPORTED = {
    "fence": "a code block",
    "code_block": "a code block",
    "html_block": "raw HTML",
    "table": "a table",
}
_PARSER = MarkdownIt("commonmark")


def _read_utf8(path: Path) -> str:
    """Decode ``path`` as UTF-8 with LF line endings, or say exactly where it is not UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AssayError(f"{path}: cannot read course file: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AssayError(f"{path}: not valid UTF-8 at byte offset {exc.start} ({exc.reason}); save the file as UTF-8") from exc
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _inline_text(node: SyntaxTreeNode) -> str:
    """Plain text of an inline node: syntax markers and HTML tags dropped, breaks as spaces."""
    parts: list[str] = []
    for token in node.children:
        if token.type in {"text", "code_inline"}:
            parts.append(token.content)
        elif token.type in {"softbreak", "hardbreak"}:
            parts.append(" ")
        elif token.type == "html_inline":
            continue
        else:
            parts.append(_inline_text(token))
    return "".join(parts)


def _block_text(node: SyntaxTreeNode) -> str:
    """Plain text of a block: paragraphs joined by spaces, nested lists' items by "; "."""
    if node.type == "inline":
        return _inline_text(node)
    if node.type in {"bullet_list", "ordered_list"}:
        return "; ".join(t for t in (normalise_whitespace(_block_text(item)) for item in node.children) if t)
    if node.type in {"fence", "code_block", "html_block"}:
        return node.content
    return " ".join(_block_text(child) for child in node.children)


class _CourseFile:
    """State machine over one chapter file's top-level blocks, collecting unit rows."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.stem = path.stem
        self.lines = text.split("\n")
        self.rows: list[dict[str, Any]] = []
        self.chapter_no: str | None = None
        self.chapter: str | None = None
        self.section_no: str | None = None
        self.section: str | None = None
        # Why content cannot be placed right now (None when it can).
        self.context_error: str | None = "text before the first chapter heading"
        self.subsection: str | None = None
        self.seen_sections: dict[str, int] = {}
        self.ordinals: Counter[tuple[str, str]] = Counter()
        self.exercises: set[int] = set()
        self.solutions: list[tuple[int, dict[str, Any], SyntaxTreeNode]] = []
        self.tree = SyntaxTreeNode(_PARSER.parse(text))

    # -- rows -----------------------------------------------------------------------------
    def _raw(self, node: SyntaxTreeNode) -> str:
        start, end = node.map or (0, 0)
        return truncate_raw("\n".join(self.lines[start:end]))

    def _line(self, node: SyntaxTreeNode) -> int | None:
        return node.map[0] + 1 if node.map else None

    def _emit(self, node: SyntaxTreeNode, kind: str | None, text: str | None, unit_id: str | None = None, error: str | None = None) -> dict[str, Any]:
        line = self._line(node)
        if unit_id is None:
            if error is not None or kind is None or self.section_no is None:
                unit_id = f"{self.stem}:line-{line}"
            else:
                self.ordinals[(self.section_no, kind)] += 1
                unit_id = f"{self.stem}:{self.section_no}:{kind}-{self.ordinals[(self.section_no, kind)]}"
        row = {
            "chapter": self.chapter,
            "section": self.section,
            "unit_id": unit_id,
            "kind": kind,
            "text": text or None,
            "_source_file": str(self.path),
            "_source_row": line,
            "_ingest_error": error,
            "_raw": self._raw(node) if error is not None else None,
        }
        self.rows.append(row)
        return row

    # -- structure ------------------------------------------------------------------------
    def _close_section(self) -> None:
        """Solutions are matched at the end of their section, so they may precede exercises."""
        for number, row, node in self.solutions:
            if number not in self.exercises:
                row["_ingest_error"] = f"solution {number} has no matching exercise in section {self.section_no}"
                row["_raw"] = self._raw(node)
        self.exercises = set()
        self.solutions = []
        self.subsection = None

    def _heading(self, node: SyntaxTreeNode) -> None:
        level = int(node.tag[1])
        title = normalise_whitespace(_block_text(node))
        if level == 1:
            self._close_section()
            match = _CHAPTER.match(title)
            if match is None:
                self.chapter_no = self.chapter = self.section_no = self.section = None
                self.context_error = f"text under a chapter heading that could not be parsed (line {self._line(node)})"
                self._emit(node, None, title, error="chapter heading does not match '# Chapter <n>: <title>'")
                return
            number, name = match.group(1).lstrip("0") or "0", match.group(2).strip()
            self.chapter_no, self.chapter = number, f"{number} {name}"
            self.section_no, self.section = f"{number}.0", f"{number}.0 Introduction"
            self.seen_sections = {}
            self.context_error = None
        elif level == 2:
            self._close_section()
            if self.chapter_no is None:
                self._emit(node, None, title, error="section heading outside a chapter")
                return
            match = _SECTION.match(title)
            problem = None
            if match is None:
                problem = "section heading does not match '## <chapter>.<n> <title>'"
            else:
                chapter, number = match.group(1).lstrip("0") or "0", match.group(2).lstrip("0") or "0"
                section_no = f"{chapter}.{number}"
                if chapter != self.chapter_no:
                    problem = f"section {section_no} is numbered for chapter {chapter} but sits in chapter {self.chapter_no}"
                elif number == "0":
                    problem = f"section number {section_no} is reserved for the chapter introduction"
                elif section_no in self.seen_sections:
                    problem = f"section {section_no} appears twice (first at line {self.seen_sections[section_no]})"
            if problem is not None:
                self.section_no = self.section = None
                self.context_error = f"text under a section heading that could not be used (line {self._line(node)})"
                self._emit(node, None, title, error=problem)
                return
            assert match is not None
            self.seen_sections[section_no] = self._line(node) or 0
            self.section_no, self.section = section_no, f"{section_no} {match.group(3).strip()}"
            self.context_error = None
        elif level == 3:
            if self.context_error is not None:
                self._emit(node, None, title, error=self.context_error)
                return
            kind = _SUBSECTIONS.get(title.rstrip(":").casefold())
            if kind is None:
                self.subsection = None
                self._emit(node, None, title, error=(f"unknown subsection heading '### {title}' (expected Learning objectives, Exercises or Solutions)"))
                return
            self.subsection = kind
        else:
            self._emit(node, None, title, error=f"heading level {level} is not part of the course format (use #, ## or ###)")

    # -- content --------------------------------------------------------------------------
    def _block(self, node: SyntaxTreeNode) -> None:
        if node.type == "heading":
            self._heading(node)
            return
        if node.type == "hr":
            return  # a thematic break carries no text
        if node.type == "blockquote":
            for child in node.children:
                self._block(child)
            return
        is_list = node.type in {"bullet_list", "ordered_list"}
        kind = "list" if is_list else "paragraph"
        if self.context_error is not None:
            self._emit(
                node,
                kind if node.type in {"paragraph", "bullet_list", "ordered_list"} else None,
                normalise_whitespace(_block_text(node)),
                error=self.context_error,
            )
            return
        if node.type in _UNSUPPORTED or not (is_list or node.type == "paragraph"):
            what = _UNSUPPORTED.get(node.type, f"a '{node.type}' block")
            self._emit(node, None, normalise_whitespace(_block_text(node)), error=f"{what} is not part of the course format")
            return
        if is_list and self.subsection == "objectives":
            self._objectives(node)
            return
        if is_list and self.subsection in {"exercises", "solutions"}:
            self._numbered(node, "exercise" if self.subsection == "exercises" else "solution")
            return
        if self.subsection == "objectives":
            self.subsection = None  # the first paragraph after the objectives list starts the body
        text = normalise_whitespace(_block_text(node))
        if text:
            self._emit(node, kind, text)
        else:
            self._emit(node, kind, None, error=f"{kind} is empty")

    def _objectives(self, node: SyntaxTreeNode) -> None:
        for item in node.children:
            text = normalise_whitespace(_block_text(item))
            if text:
                self._emit(item, "objective", text)
            else:
                self._emit(item, "objective", None, error="learning objective is empty")

    def _numbered(self, node: SyntaxTreeNode, kind: str) -> None:
        if node.type != "ordered_list":
            for item in node.children:
                self._emit(item, kind, normalise_whitespace(_block_text(item)), error=f"{kind}s must be a numbered list (1. 2. ...), not a bullet list")
            return
        for position, item in enumerate(node.children):
            # markdown-it records each item's number as written in ``info``.
            number = int(item.info) if item.info.isdigit() else int(str(node.attrs.get("start", 1))) + position
            text = normalise_whitespace(_block_text(item))
            unit_id = f"{self.stem}:{self.section_no}:{kind}-{number}"
            if not text:
                self._emit(item, kind, None, unit_id=unit_id, error=f"{kind} {number} is empty")
            elif kind == "exercise" and number in self.exercises:
                self._emit(item, kind, text, error=f"exercise {number} appears twice in section {self.section_no}")
            elif kind == "solution" and any(n == number for n, _, _ in self.solutions):
                self._emit(item, kind, text, error=f"solution {number} appears twice in section {self.section_no}")
            else:
                row = self._emit(item, kind, text, unit_id=unit_id)
                if kind == "exercise":
                    self.exercises.add(number)
                else:
                    self.solutions.append((number, row, item))
            if kind == "exercise":
                self.exercises.add(number)

    def read(self) -> list[dict[str, Any]]:
        for node in self.tree.children:
            self._block(node)
        self._close_section()
        return self.rows


def read_markdown_course(paths: list[Path]) -> pl.DataFrame:
    """Read the chapter files, in the order given, into unit rows (columns ``UNIT_SCHEMA``).

    Problems inside a file become error rows so that one bad line never hides the rest of the
    course; only a file that cannot be decoded at all raises :class:`AssayError`.
    """
    rows: list[dict[str, Any]] = []
    for path in paths:
        path = Path(path)
        rows.extend(_CourseFile(path, _read_utf8(path)).read())
    return units_frame(rows)
