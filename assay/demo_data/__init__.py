"""The embedded demo data: small, deterministic, committed, with the faults real data has.

``assay demo-data`` writes ``data/raw/<domain>/`` from this package: the two tabular files are
generated from seeds (``tabular.py``), and the course is an original text written for the
project (``course/*.md``) with faults injected by ``course.py``. Same code -> same bytes, so the
committed files can be checked against a fresh run (``tests/test_demo_data.py``).
"""

from __future__ import annotations

from pathlib import Path

from assay.demo_data.course import build_course_files
from assay.demo_data.tabular import make_records_csv, make_transactions_csv
from assay.io import atomic_path, write_json

RECORDS_ROWS, RECORDS_SEED = 5000, 11
TRANSACTIONS_ROWS, TRANSACTIONS_SEED = 12000, 12
COURSE_SEED = 7


def _write_bytes(data: bytes, path: Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_demo_data(raw_root: Path = Path("data/raw")) -> list[Path]:
    """Write every domain's demo raw files under ``raw_root``; return the paths written.

    ``data/demo_faults/<domain>.json`` records which faults were injected and how many, so tests
    can check that cleaning finds them; it lies outside ``raw_dir``, so ingest never reads it.
    """
    written: list[Path] = []
    records, records_faults = make_records_csv(RECORDS_ROWS, RECORDS_SEED)
    transactions, transactions_faults = make_transactions_csv(TRANSACTIONS_ROWS, TRANSACTIONS_SEED)
    course, course_faults = build_course_files(COURSE_SEED)
    files: dict[str, dict[str, bytes]] = {
        "records": {"diabetic_data.csv": records},
        "transactions": {"online_retail.csv": transactions},
        "course_material": {name: text.encode("utf-8") for name, text in course.items()},
    }
    faults = {"records": records_faults, "transactions": transactions_faults, "course_material": course_faults}
    for domain, members in files.items():
        for name, data in sorted(members.items()):
            path = raw_root / domain / name
            _write_bytes(data, path)
            written.append(path)
        faults_path = raw_root.parent / "demo_faults" / f"{domain}.json"
        write_json(dict(sorted(faults[domain].items())), faults_path)
        written.append(faults_path)
    return written


__all__ = ["write_demo_data"]
