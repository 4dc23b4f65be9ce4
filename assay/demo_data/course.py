"""The embedded demo course, with a few known faults injected deterministically.

The chapter files under ``course/`` are an original short course ("Working with Data: a short
course in data quality") written for this project in a strict Markdown layout: one
``# Chapter N: Title`` per file, ``## N.M Title`` sections, and in every section the blocks
``### Learning objectives``, the body, ``### Exercises`` and ``### Solutions``. Every paragraph
and list item is a single line.

:func:`build_course_files` returns those files with a small, countable set of the faults that
real course exports (from a CMS, a word processor or a copy-paste round trip) tend to carry, so
that the pipeline's cleaning and parsing stages have something real to find, and tests can check
that they find exactly what was injected:

``mojibake``
    3-4 body paragraphs that contain non-ASCII characters are re-encoded as UTF-8 bytes read
    back as Windows-1252 ("café" becomes "cafÃ©", "–" becomes "â€“"), as happens when an export
    is opened with the wrong encoding and saved again. Bytes that cp1252 leaves undefined (0x81,
    0x8D, 0x8F, 0x90, 0x9D, e.g. the last byte of "”") map to the same Latin-1 code point, the
    "sloppy" cp1252 that ftfy undoes, so ``ftfy.fix_encoding`` restores the paragraph exactly.
``stray_whitespace``
    5-9 lines with trailing spaces or tabs (paragraphs and list items, never headings), or
    paragraphs with one doubled space between two words, as left by hand editing. Each affected
    line counts once.
``duplicate_paragraph``
    2 body paragraphs repeated verbatim right after themselves (separated by the usual blank
    line), as left by a paste done twice.
``empty_exercise``
    1 exercise whose text is blank: the line is just ``N. `` (the number, a dot and one space).
    Its solution stays, so the exercise and solution lists still have the same numbers. That
    trailing space belongs to this fault and is not counted as stray whitespace.
``orphan_solution``
    1 extra solution numbered one beyond the section's last exercise, as left when an exercise
    is deleted but its answer is not; the parser should flag it.
``crlf``
    1 file written with Windows line endings (``\\r\\n``), as saved by an editor on Windows.

Faults never overlap: each line receives at most one of them, so each is detectable on its own.
The same seed always gives byte-identical output; a different seed picks different targets.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path

COURSE_DIR = Path(__file__).parent / "course"

FAULT_KINDS: tuple[str, ...] = (
    "mojibake",
    "stray_whitespace",
    "duplicate_paragraph",
    "empty_exercise",
    "orphan_solution",
    "crlf",
)

_LIST_ITEM = re.compile(r"\d+\. ")
_WORD_GAP = re.compile(r"(?<=\S) (?=\S)")
_TRAILING = (" ", "  ", "\t", " \t")
_ORPHAN_TEXTS = (
    "This answer belonged to an exercise that was removed from the current edition of the course.",
    "See the worked example in the instructor's notes; the matching exercise was cut in revision.",
    "Compare your answer with a colleague's and discuss any assumptions on which you differed.",
)


@dataclass
class _Section:
    """Where one section's exercises and solutions lie in its file's lines."""

    name: str
    exercises: list[int] = field(default_factory=list)
    solutions: list[int] = field(default_factory=list)


def _sloppy_cp1252(text: str) -> str:
    """Decode the UTF-8 bytes of ``text`` as Windows-1252, undefined bytes as Latin-1."""
    out = []
    for byte in text.encode("utf-8"):
        try:
            out.append(bytes([byte]).decode("cp1252"))
        except UnicodeDecodeError:
            out.append(chr(byte))
    return "".join(out)


def _scan(name: str, lines: list[str]) -> tuple[list[tuple[str, int]], list[_Section]]:
    """Return the file's body paragraphs as (name, line index), and its sections."""
    paragraphs: list[tuple[str, int]] = []
    sections: list[_Section] = []
    block = ""
    for index, line in enumerate(lines):
        if line.startswith("## "):
            sections.append(_Section(name))
            block = "body"
        elif line.startswith("### "):
            block = line[4:].strip().lower()
        elif not line or not sections:
            continue
        elif block == "exercises" and _LIST_ITEM.match(line):
            sections[-1].exercises.append(index)
        elif block == "solutions" and _LIST_ITEM.match(line):
            sections[-1].solutions.append(index)
        elif block in ("body", "learning objectives") and not line.startswith("- "):
            # The body has no heading of its own: it starts at the first line after the objectives list.
            block = "body"
            paragraphs.append((name, index))
    return paragraphs, sections


def build_course_files(seed: int = 7) -> tuple[dict[str, str], dict[str, int]]:
    """Return ({file name: markdown text with injected faults}, {fault kind: count injected})."""
    rng = random.Random(seed)
    docs = {path.name: path.read_text(encoding="utf-8").splitlines() for path in sorted(COURSE_DIR.glob("*.md"))}
    paragraphs: list[tuple[str, int]] = []
    sections: list[_Section] = []
    for name, lines in docs.items():
        found_paragraphs, found_sections = _scan(name, lines)
        paragraphs += found_paragraphs
        sections += found_sections

    def line_at(target: tuple[str, int]) -> str:
        return docs[target[0]][target[1]]

    taken: set[tuple[str, int]] = set()

    def pick(pool: list[tuple[str, int]], count: int) -> list[tuple[str, int]]:
        chosen = rng.sample([target for target in pool if target not in taken], count)
        taken.update(chosen)
        return chosen

    non_ascii = [target for target in paragraphs if not line_at(target).isascii()]
    mojibake = pick(non_ascii, rng.randint(3, 4))
    duplicates = pick(paragraphs, 2)
    doubled = pick(paragraphs, rng.randint(2, 4))
    empty_section, orphan_section = rng.sample(sections, 2)
    empty_exercise = rng.choice(empty_section.exercises)
    taken.add((empty_section.name, empty_exercise))
    text_lines = [(name, index) for name, lines in docs.items() for index, line in enumerate(lines) if line and not line.startswith("#")]
    trailing = pick(text_lines, rng.randint(3, 5))
    crlf_name = rng.choice(sorted(docs))

    # In-place edits first, then insertions from the bottom up so earlier indices stay valid.
    for name, index in mojibake:
        docs[name][index] = _sloppy_cp1252(docs[name][index])
    for name, index in doubled:
        line = docs[name][index]
        gap = rng.choice([match.start() for match in _WORD_GAP.finditer(line)])
        docs[name][index] = line[:gap] + "  " + line[gap + 1 :]
    for name, index in trailing:
        docs[name][index] += rng.choice(_TRAILING)
    number = docs[empty_section.name][empty_exercise].split(". ", 1)[0]
    docs[empty_section.name][empty_exercise] = f"{number}. "

    insertions = [(name, index + 1, ["", docs[name][index]]) for name, index in duplicates]
    orphan_number = len(orphan_section.exercises) + 1
    orphan_line = f"{orphan_number}. {rng.choice(_ORPHAN_TEXTS)}"
    insertions.append((orphan_section.name, orphan_section.solutions[-1] + 1, [orphan_line]))
    for name, index, new_lines in sorted(insertions, key=lambda item: item[1], reverse=True):
        docs[name][index:index] = new_lines

    files = {}
    for name, lines in docs.items():
        text = "\n".join(lines) + "\n"
        files[name] = text.replace("\n", "\r\n") if name == crlf_name else text
    counts = {
        "mojibake": len(mojibake),
        "stray_whitespace": len(doubled) + len(trailing),
        "duplicate_paragraph": len(duplicates),
        "empty_exercise": 1,
        "orphan_solution": 1,
        "crlf": 1,
    }
    return files, counts
