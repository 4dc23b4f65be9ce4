"""Scale: ingest + clean + validate of the real retail file at 1x, 3x and 10x (issue 19, item 2).

Builds ``online_retail.csv`` (../shared/data, 541,909 rows, 47 MB) repeated 1, 3 and 10 times
in a temporary folder; copy k > 1 has its invoice numbers suffixed ``-k``, so copies are new
invoices, not duplicates of each other (the params' InvoiceNo pattern and the suite's regex are
widened to match, in the copies of both written beside the data). Each stage runs as the stage
function (``run_ingest``, ``run_clean``, ``run_validate``: what ``assay ingest/clean/validate``
run, without the CLI's start-up) in a fresh process of this checkout's code, and the parent
reads that process's peak RSS from ``os.wait4``. Prints, per scale and stage, the median wall
and CPU time of REPEATS runs (the stage call, after imports; CPU time adds up both cores and
moves less than wall time on a busy machine), rows/s, peak RSS of the whole process and its
ratio to the file size, then the targets:

- 10x ingest + clean + validate time at most 11 times the 1x time (linear);
- peak RSS at 10x at most 1.5 GB;
- 1x ingest + clean at most 2.0 s (2 cores).

``--phases`` also times the phases of the 1x ingest and clean in one process (the split the
README quotes). Usage: python benchmarks/scale.py [--scales 1 3 10] [--repeats 3] [--phases]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
RETAIL = SHARED / "transactions" / "online_retail.csv"
DOMAIN = "transactions"
STAGES = ("ingest", "clean", "validate")

# One stage in a fresh process; prints the wall and CPU time of the stage call (imports done).
# The parent reads the process's peak RSS.
CHILD = r"""
import json, logging, sys, time
from pathlib import Path
logging.disable(logging.WARNING)
stage, folder = sys.argv[1], Path(sys.argv[2])
import assay
assert Path(assay.__file__).is_relative_to(Path(sys.argv[3])), assay.__file__
from assay.stages.clean import run_clean
from assay.stages.ingest import run_ingest
from assay.stages.validate import run_validate
params = folder / "params.yaml"
calls = {
    # No schema file: a run by hand reads the columns from params (what the schema stage would write).
    "ingest": lambda: run_ingest("transactions", params, folder / "interim.parquet", folder / "ingest.json", folder / "schema.json"),
    "clean": lambda: run_clean("transactions", params, folder / "interim.parquet", folder / "clean.parquet", folder / "quarantine.parquet",
                               folder / "restricted.parquet", folder / "clean.json"),
    "validate": lambda: run_validate("transactions", params, folder / "clean.parquet", folder / "suite.json", folder / "validation.json", folder / "docs"),
}
start, cpu = time.perf_counter(), time.process_time()
calls[stage]()
print(json.dumps({"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu}))
"""


def build(folder: Path, copies: int) -> Path:
    """The retail file ``copies`` times, with params and suite beside it; returns the CSV's path."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    header, _, body = RETAIL.read_bytes().partition(b"\n")
    path = folder / "raw" / "online_retail.csv"
    path.parent.mkdir(exist_ok=True)
    with open(path, "wb") as out:
        out.write(header + b"\n")
        for copy in range(1, copies + 1):
            out.write(body if copy == 1 else re.sub(rb"(?m)^([AC]?[0-9]{6}),", rb"\1-%d," % copy, body))
    params = yaml.safe_load((ROOT / "params.real.yaml").read_text(encoding="utf-8"))
    domain = params["domains"][DOMAIN]
    domain["raw_dir"] = "raw"
    domain["sources"] = [{"path": "raw/online_retail.csv", "format": "csv"}]
    domain["columns"]["InvoiceNo"]["pattern"] += "(-[0-9]+)?"
    (folder / "params.yaml").write_text(yaml.safe_dump({"domains": {DOMAIN: domain}}, sort_keys=False), encoding="utf-8")
    suite = json.loads((ROOT / "expectations" / f"{DOMAIN}.json").read_text(encoding="utf-8"))
    for expectation in suite["expectations"]:
        if expectation["kwargs"].get("column") == "InvoiceNo" and "regex" in expectation["kwargs"]:
            expectation["kwargs"]["regex"] = expectation["kwargs"]["regex"].removesuffix("$") + "(-[0-9]+)?$"
    (folder / "suite.json").write_text(json.dumps(suite), encoding="utf-8")
    return path


def run_stage(stage: str, folder: Path) -> dict[str, float]:
    """One stage in a fresh process of this checkout: its wall time and peak RSS (from the kernel)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), ASSAY_PSEUDONYM_KEY="scale-benchmark-key")
    with tempfile.TemporaryFile() as errors:
        child = subprocess.Popen([sys.executable, "-P", "-c", CHILD, stage, str(folder), str(ROOT)], stdout=subprocess.PIPE, stderr=errors, env=env, cwd=folder)
        _, status, usage = os.wait4(child.pid, 0)
        output = child.stdout.read().decode() if child.stdout else ""
        if status:
            errors.seek(0)
            raise SystemExit(f"{stage} failed in {folder}:\n{errors.read().decode()[-3000:]}")
    timing = json.loads(output.strip().splitlines()[-1])
    return {"seconds": timing["seconds"], "cpu": timing["cpu"], "peak_mb": usage.ru_maxrss / 1024}


def phases(folder: Path) -> None:
    """Time the phases of one ingest and one clean of ``folder``'s data, in this process (wall and CPU)."""
    import logging
    import time
    from collections import defaultdict

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("ASSAY_PSEUDONYM_KEY", "scale-benchmark-key")
    logging.disable(logging.WARNING)
    import assay.data.clean as clean
    import assay.ingest.sources as sources
    import assay.ingest.tabular as tabular
    import assay.io as io
    from assay.config import load_params

    spent: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])

    def timed(owner: object, name: str, label: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args: object, **kwargs: object) -> object:
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                spent[label][0] += time.perf_counter() - wall
                spent[label][1] += time.process_time() - cpu

        setattr(owner, name, wrapper)

    timed(tabular, "_scan_bytes", "ingest: byte scan (blank, line endings, UTF-8)")
    timed(tabular.CsvSource, "_batch", "ingest: lines -> fields and checks, per batch")
    timed(tabular, "finish_interim", "ingest: finish (_raw, over-long fields)")
    timed(sources, "sha256_file", "ingest: sha256 of the source")
    timed(clean, "raw_identifiers", "clean: raw identifiers (first read)")
    timed(clean, "normalise", "clean: normalise")
    timed(clean._Duplicates, "keep", "clean: dedupe")
    timed(clean, "_treat_personal_data", "clean: personal data")
    timed(clean, "pseudonymise", "clean: pseudonymise")
    timed(clean.Cleaner, "batch", "clean: batch total")
    timed(io.ParquetBatchWriter, "close", "write: parquet (all outputs, incl. ingest finish)")
    spec = load_params(folder / "params.yaml").domain(DOMAIN)
    outputs = [folder / f"{name}.parquet" for name in ("clean", "quarantine", "restricted")]
    totals = {}
    for stage, call in (
        ("ingest", lambda: sources.write_interim(DOMAIN, spec, folder / "interim.parquet", folder)),
        ("clean", lambda: clean.clean_file(folder / "interim.parquet", spec, b"key", *outputs)),
    ):
        wall, cpu = time.perf_counter(), time.process_time()
        call()
        totals[stage] = (time.perf_counter() - wall, time.process_time() - cpu)
    print(
        f"\nphases of one run in this process: ingest {totals['ingest'][0]:.2f} s wall, {totals['ingest'][1]:.2f} s CPU; "
        f"clean {totals['clean'][0]:.2f} s wall, {totals['clean'][1]:.2f} s CPU"
    )
    parts = [key for key in spent if key.startswith("clean: ") and key not in ("clean: batch total", "clean: raw identifiers (first read)")]
    spent["clean: types, rules, reasons, quarantine (rest)"] = [spent["clean: batch total"][i] - sum(spent[key][i] for key in parts) for i in (0, 1)]
    print(f"  {'phase':<52}{'wall s':>8}{'CPU s':>8}")
    for label, (wall, cpu) in sorted(spent.items()):
        if label != "clean: batch total":
            print(f"  {label:<52}{wall:>8.2f}{cpu:>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=int, nargs="*", default=[1, 3, 10])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--phases", action="store_true", help="also time the phases of the 1x run")
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it (default: a temporary folder)")
    args = parser.parse_args()
    if not RETAIL.is_file():
        print(f"skipped: {RETAIL} not found")
        return
    with tempfile.TemporaryDirectory() as temporary:
        base = args.keep or Path(temporary)
        results = {}
        columns = f"{'wall s':>8}{'CPU s':>8}{'rows/s':>12}{'peak MB':>9}{'peak/file':>10}"
        print(f"{'scale':>5}{'rows':>12}{'MB':>7}  {'stage':<9}{columns}   (median of {args.repeats})")
        for scale in args.scales:
            folder = base / f"{scale}x"
            path = build(folder, scale)
            size_mb = path.stat().st_size / 1e6
            runs = {stage: [] for stage in STAGES}
            for _ in range(args.repeats):
                for stage in STAGES:
                    runs[stage].append(run_stage(stage, folder))
            rows = json.loads((folder / "ingest.json").read_text())["rows"]
            result = {stage: {key: statistics.median(run[key] for run in runs[stage]) for key in ("seconds", "cpu", "peak_mb")} for stage in STAGES}
            for stage in STAGES:
                r = result[stage]
                line = f"{r['seconds']:>8.2f}{r['cpu']:>8.2f}{rows / r['seconds']:>12,.0f}{r['peak_mb']:>9.0f}{r['peak_mb'] / size_mb:>10.1f}"
                print(f"{scale:>4}x{rows:>12,}{size_mb:>7.0f}  {stage:<9}{line}")
            total = sum(result[stage]["seconds"] for stage in STAGES)
            cpu = sum(result[stage]["cpu"] for stage in STAGES)
            peak = max(result[stage]["peak_mb"] for stage in STAGES)
            print(f"{scale:>4}x{rows:>12,}{size_mb:>7.0f}  {'all':<9}{total:>8.2f}{cpu:>8.2f}{rows / total:>12,.0f}{peak:>9.0f}{peak / size_mb:>10.1f}")
            results[scale] = {"total": total, "ingest_clean": result["ingest"]["seconds"] + result["clean"]["seconds"], "peak_mb": peak}
            if args.phases and scale == 1:
                phases(folder)
        if 1 in results:
            print(f"\ntarget: 1x ingest + clean <= 2.0 s: {results[1]['ingest_clean']:.2f} s")
        if 1 in results and 10 in results:
            print(f"target: 10x time <= 11 x 1x: {results[10]['total'] / results[1]['total']:.1f} x")
            print(f"target: peak RSS at 10x <= 1,500 MB: {results[10]['peak_mb']:,.0f} MB")


if __name__ == "__main__":
    main()
