"""The embedded demo course: its shape, and the faults build_course_files injects into it."""

from __future__ import annotations

import re

import ftfy
import pytest

from assay.demo_data.course import COURSE_DIR, FAULT_KINDS, build_course_files

SECTION = re.compile(r"^## (\d+)\.(\d+) \S", re.MULTILINE)
ITEM = re.compile(r"(\d+)\. ?(.*)")


def _clean_texts() -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(COURSE_DIR.glob("*.md"))}


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").split("\n")


def _sections(text: str) -> list[dict[str, list[str]]]:
    """Split one chapter into sections, each a {block heading: non-blank lines} mapping."""
    sections: list[dict[str, list[str]]] = []
    block = ""
    for line in _lines(text):
        stripped = line.rstrip()
        if stripped.startswith("## "):
            sections.append({})
            block = "body"
        elif stripped.startswith("### "):
            block = stripped[4:]
        elif stripped and sections:
            if block == "Learning objectives" and not stripped.startswith("- "):
                block = "body"  # the body has no heading: it starts after the objectives list
            sections[-1].setdefault(block, []).append(line)
    return sections


@pytest.fixture(scope="module")
def built() -> tuple[dict[str, str], dict[str, int]]:
    return build_course_files(7)


@pytest.fixture(scope="module")
def clean_lines() -> set[str]:
    return {line for text in _clean_texts().values() for line in text.splitlines()}


def test_same_seed_gives_identical_output() -> None:
    first = build_course_files(7)
    second = build_course_files(7)
    assert first == second
    assert all(a.encode("utf-8") == b.encode("utf-8") for a, b in zip(first[0].values(), second[0].values(), strict=True))


def test_different_seed_moves_the_faults(clean_lines: set[str]) -> None:
    def faulted(seed: int) -> set[str]:
        files, _ = build_course_files(seed)
        return {line for text in files.values() for line in _lines(text) if line not in clean_lines}

    assert build_course_files(7)[0] != build_course_files(8)[0]
    assert faulted(7) != faulted(8)


def test_course_size_and_structure() -> None:
    texts = _clean_texts()
    assert len(texts) >= 4
    assert sum(len(text.encode("utf-8")) for text in texts.values()) >= 40_000
    total_sections = 0
    for name, text in texts.items():
        chapter = int(re.match(r"ch(\d+)-", name).group(1))
        assert text.startswith(f"# Chapter {chapter}: ")
        numbers = [(int(c), int(s)) for c, s in SECTION.findall(text)]
        assert numbers == [(chapter, m) for m in range(1, len(numbers) + 1)]
        sections = _sections(text)
        assert len(sections) == len(numbers)
        for section in sections:
            assert list(section) == ["Learning objectives", "body", "Exercises", "Solutions"]
            assert all(line.startswith("- ") for line in section["Learning objectives"])
            exercises = [int(ITEM.match(line).group(1)) for line in section["Exercises"]]
            solutions = [int(ITEM.match(line).group(1)) for line in section["Solutions"]]
            assert 3 <= len(exercises) <= 4
            assert exercises == solutions == list(range(1, len(exercises) + 1))
        total_sections += len(sections)
    assert total_sections >= 8


def test_every_fault_kind_is_injected(built: tuple[dict[str, str], dict[str, int]]) -> None:
    files, counts = built
    assert set(counts) == set(FAULT_KINDS)
    assert all(counts[kind] > 0 for kind in FAULT_KINDS)
    assert set(files) == set(_clean_texts())


def test_mojibake_is_repairable(built: tuple[dict[str, str], dict[str, int]], clean_lines: set[str]) -> None:
    files, counts = built
    broken = [line for text in files.values() for line in _lines(text) if line not in clean_lines and ftfy.fix_encoding(line) in clean_lines]
    assert len(broken) == counts["mojibake"]
    assert all("Ã" in line or "â" in line for line in broken)
    assert any("Ã" in line for line in broken)


def test_whitespace_duplicates_and_crlf(built: tuple[dict[str, str], dict[str, int]]) -> None:
    files, counts = built
    stray = 0
    duplicates = 0
    for text in files.values():
        lines = _lines(text)
        for line in lines:
            if re.fullmatch(r"\d+\. ", line):
                continue  # the empty exercise, counted on its own
            if line != line.rstrip(" \t") or "  " in line.strip():
                stray += 1
        duplicates += sum(1 for i in range(len(lines) - 2) if lines[i] and not lines[i + 1] and lines[i] == lines[i + 2])
    assert stray == counts["stray_whitespace"]
    assert 5 <= stray <= 10
    assert duplicates == counts["duplicate_paragraph"] == 2
    assert sum("\r\n" in text for text in files.values()) == counts["crlf"] == 1
    assert all(text.count("\r\n") == text.count("\n") for text in files.values() if "\r\n" in text)


def test_empty_exercise_and_orphan_solution(built: tuple[dict[str, str], dict[str, int]]) -> None:
    files, counts = built
    empty = 0
    orphans = 0
    for text in files.values():
        for section in _sections(text):
            exercises = [ITEM.match(line) for line in section["Exercises"]]
            solutions = [ITEM.match(line) for line in section["Solutions"]]
            blank = [m.group(1) for m in exercises if not m.group(2).strip()]
            empty += len(blank)
            # A blank exercise keeps its solution.
            assert set(blank) <= {m.group(1) for m in solutions}
            orphans += sum(1 for m in solutions if int(m.group(1)) > len(exercises))
    assert empty == counts["empty_exercise"] == 1
    assert orphans == counts["orphan_solution"] == 1
