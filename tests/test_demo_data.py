"""The committed demo data is exactly what the generator makes, and small."""

from __future__ import annotations

from pathlib import Path

from assay.demo_data import write_demo_data

from .conftest import REPO_ROOT

MAX_DOMAIN_BYTES = 2 * 1024 * 1024


def test_committed_demo_data_matches_a_fresh_generation(tmp_path: Path) -> None:
    written = write_demo_data(tmp_path / "data" / "raw")
    assert written
    for path in written:
        committed = REPO_ROOT / path.relative_to(tmp_path)
        assert committed.is_file(), f"{committed} is not committed; run `assay demo-data`"
        assert committed.read_bytes() == path.read_bytes(), f"{committed} differs from the generator; run `assay demo-data`"


def test_each_domain_is_at_most_2_mb() -> None:
    for domain_dir in (REPO_ROOT / "data" / "raw").iterdir():
        size = sum(f.stat().st_size for f in domain_dir.rglob("*") if f.is_file())
        assert size <= MAX_DOMAIN_BYTES, f"{domain_dir.name}: {size} bytes"


def test_demo_course_is_long_enough() -> None:
    files = sorted((REPO_ROOT / "data/raw/course_material").glob("*.md"))
    text = "".join(f.read_text(encoding="utf-8") for f in files)
    assert len(text.encode()) >= 40 * 1024
    assert text.count("\n## ") >= 8
    for block in ("### Learning objectives", "### Exercises", "### Solutions"):
        assert text.count(block) >= 8
