"""Ingest and clean run in bounded batches and give, byte for byte, what doing it all at once gives.

- The batch writer lays a file out in the row groups of one write of the whole frame.
- Hypothesis: any CSV file read in batches of 1, 2 or 3 lines is the frame (or the one-line
  error) of reading it in one batch, and cleaning in batches of 1 or 2 rows is cleaning at once.
- The demo domains, streamed in small batches, give the files whose md5 ``dvc.lock`` records.
- The real retail file in small batches gives the bytes of one batch (slow, needs ../shared/data).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

import polars as pl
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assay.config import DomainSpec, load_params
from assay.contracts import read_report_data
from assay.data.clean import DEMO_PSEUDONYM_KEY, clean_file, clean_frame
from assay.errors import AssayError
from assay.ingest.sources import write_interim
from assay.ingest.tabular import read_csv_source
from assay.io import ParquetBatchWriter, write_parquet
from tests.conftest import REPO_ROOT
from tests.test_fuzz_ingest import COLUMNS, CSV_OPTIONS, csv_files, domains

SHARED = REPO_ROOT.parent / "shared" / "data"


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_batches_are_written_in_the_row_groups_of_one_write(tmp_path: Path) -> None:
    rows = 300_000  # polars writes three row groups for this many rows held in one piece
    frame = pl.DataFrame({"n": pl.int_range(rows, eager=True), "text": pl.int_range(rows, eager=True).cast(pl.String) + "x"})
    write_parquet(frame, tmp_path / "whole.parquet")
    for batch in (7_777, 100_000, rows):
        writer = ParquetBatchWriter(tmp_path / "batched.parquet")
        for offset in range(0, rows, batch):
            writer.write(frame.slice(offset, batch))
        assert writer.close() == rows
        assert md5(tmp_path / "batched.parquet") == md5(tmp_path / "whole.parquet"), f"batches of {batch}"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["batched.parquet", "whole.parquet"]  # no spool left behind


def test_an_empty_frame_is_written_with_its_schema(tmp_path: Path) -> None:
    empty = pl.DataFrame(schema={"a": pl.String, "b": pl.Int64})
    write_parquet(empty, tmp_path / "whole.parquet")
    writer = ParquetBatchWriter(tmp_path / "batched.parquet")
    writer.write(empty)
    assert writer.close() == 0
    assert md5(tmp_path / "batched.parquet") == md5(tmp_path / "whole.parquet")


def read(path: Path, batch_lines: int, **options: object) -> tuple[str, object, object]:
    try:
        frame, info = read_csv_source(path, COLUMNS, batch_lines=batch_lines, **options)
    except AssayError as error:
        return "error", str(error), None
    return "ok", frame, info.model_dump()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=csv_files(), options=CSV_OPTIONS, limit=st.sampled_from([3, 100_000]), comment=st.sampled_from([None, "#"]), spec=domains())
def test_any_file_read_and_cleaned_in_small_batches_is_the_same_as_at_once(data: bytes, options: dict, limit: int, comment: str | None, spec: dict) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "in.csv"
        path.write_bytes(data)
        whole = read(path, 1 << 20, identifiers=["id"], max_field_chars=limit, comment=comment, **options)
        for batch_lines in (1, 2, 3):
            batched = read(path, batch_lines, identifiers=["id"], max_field_chars=limit, comment=comment, **options)
            assert batched[0] == whole[0] and batched[2] == whole[2]
            assert batched[1] == whole[1] if whole[0] == "error" else batched[1].equals(whole[1])
    if whole[0] == "error":
        return
    try:
        domain = DomainSpec.model_validate(spec)
    except Exception:
        return
    at_once = clean_frame(whole[1], domain, b"key", batch_rows=1 << 20)
    for batch_rows in (1, 2):
        batched = clean_frame(whole[1], domain, b"key", batch_rows=batch_rows)
        assert batched.report == at_once.report
        for name in ("clean", "quarantine", "restricted"):
            assert getattr(batched, name).equals(getattr(at_once, name)), name


def locked_md5s() -> dict[str, str]:
    lock = yaml.safe_load((REPO_ROOT / "dvc.lock").read_text(encoding="utf-8"))
    return {out["path"]: out["md5"] for stage in lock["stages"].values() for out in stage.get("outs", [])}


@pytest.mark.parametrize("domain", ["records", "transactions", "course_material"])
def test_demo_outputs_streamed_in_small_batches_are_the_locked_bytes(domain: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO_ROOT)  # as dvc runs the stages: paths in the outputs are relative
    monkeypatch.delenv("ASSAY_PSEUDONYM_KEY", raising=False)
    spec = load_params(Path("params.yaml")).domain(domain)
    locked = locked_md5s()
    interim = tmp_path / "interim.parquet"
    ingest_report = write_interim(domain, spec, interim, Path("."), batch_lines=97)
    assert md5(interim) == locked[f"data/interim/{domain}.parquet"]
    # the stage's report is its figures and their details, in two files: compare both, merged
    assert ingest_report == read_report_data(REPO_ROOT / "reports" / "ingest" / f"{domain}.json")
    outputs = {name: tmp_path / f"{name}.parquet" for name in ("clean", "quarantine", "restricted")}
    report = clean_file(interim, spec, DEMO_PSEUDONYM_KEY.encode("utf-8"), outputs["clean"], outputs["quarantine"], outputs["restricted"], batch_rows=101)
    assert md5(outputs["clean"]) == locked[f"data/clean/{domain}.parquet"]
    assert md5(outputs["quarantine"]) == locked[f"data/quarantine/{domain}.parquet"]
    assert md5(outputs["restricted"]) == locked[f"data/quarantine/{domain}.restricted.parquet"]
    committed = read_report_data(REPO_ROOT / "reports" / "clean" / f"{domain}.json")
    assert json.loads(json.dumps(report, default=str)) == {key: value for key, value in committed.items() if key != "pseudonym_key"}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["clean.parquet", "interim.parquet", "quarantine.parquet", "restricted.parquet"]


@pytest.mark.slow
@pytest.mark.real_data
def test_real_retail_in_small_batches_is_the_bytes_of_one_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not SHARED.is_dir():
        pytest.skip(f"real datasets not found at {SHARED}")
    monkeypatch.chdir(REPO_ROOT)
    spec = load_params(Path("params.real.yaml")).domain("transactions")
    digests = []
    for batch_lines, batch_rows in ((1 << 20, 1 << 20), (50_000, 60_000)):
        folder = tmp_path / str(batch_lines)
        write_interim("transactions", spec, folder / "interim.parquet", Path("."), batch_lines=batch_lines)
        outputs = [folder / f"{name}.parquet" for name in ("clean", "quarantine", "restricted")]
        clean_file(folder / "interim.parquet", spec, b"test-key", *outputs, batch_rows=batch_rows)
        digests.append([md5(path) for path in (folder / "interim.parquet", *outputs)])
    assert digests[0] == digests[1]
