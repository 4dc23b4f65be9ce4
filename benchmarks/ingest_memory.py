"""Peak memory of reading one large CSV file: the CSV reader alone, in a fresh process per run.

Issue 15 (point 12): a 200 MB CSV of 2.16M identical lines peaked at 3.37 GB RSS (16.5 times the
file) when lines were split and kept as Python strings. This writes such a file (a demo
transactions line, repeated), reads it with ``assay.ingest.tabular.read_csv_source`` in a
subprocess, and prints the median peak RSS and its ratio to the file size. ``--rev REV`` reads it
with the reader of a git revision too (e.g. ``--rev 24c360c``, the last one before the fix), in
the same run, so the two are compared on the same machine state.

Usage: python benchmarks/ingest_memory.py [--lines 2160000] [--repeats 3] [--rev REV] [--quoted]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
LINE = "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n"
QUOTED = '536365,85123A,"WHITE HANGING HEART, T-LIGHT HOLDER",6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n'

CHILD = r"""
import importlib.util, json, resource, sys, time
from pathlib import Path
path, reader = Path(sys.argv[1]), sys.argv[2]
if reader == "current":
    from assay.ingest.tabular import read_csv_source
else:
    spec = importlib.util.spec_from_file_location("old_tabular", reader)
    module = importlib.util.module_from_spec(spec); sys.modules["old_tabular"] = module; spec.loader.exec_module(module)
    read_csv_source = module.read_csv_source
columns = sys.argv[3].split(",")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.perf_counter()
frame, info = read_csv_source(path, columns, identifiers=["CustomerID"]) if reader == "current" else read_csv_source(path, columns)
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rows": frame.height, "seconds": seconds, "peak_mb": peak, "baseline_mb": before}))
"""


def measure(path: Path, reader: str, repeats: int) -> dict:
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", CHILD, str(path), reader, HEADER.strip()], capture_output=True, text=True, cwd=ROOT)
        if out.returncode:
            raise SystemExit(f"reader {reader} failed:\n{out.stderr[-2000:]}")
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {key: statistics.median(run[key] for run in runs) for key in ("rows", "seconds", "peak_mb", "baseline_mb")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=2_160_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rev", help="also measure the reader of this git revision")
    parser.add_argument("--quoted", action="store_true", help="every line holds a quoted field (the csv-module path)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.csv"
        with path.open("w", encoding="utf-8") as out:
            out.write(HEADER)
            line = QUOTED if args.quoted else LINE
            for _ in range(args.lines // 10_000):
                out.write(line * 10_000)
            out.write(line * (args.lines % 10_000))
        size_mb = path.stat().st_size / 2**20
        readers = {"current": "current"}
        if args.rev:
            old = Path(folder) / "old_tabular.py"
            old.write_text(subprocess.run(["git", "show", f"{args.rev}:assay/ingest/tabular.py"], capture_output=True, text=True, check=True, cwd=ROOT).stdout)
            readers[args.rev] = str(old)
        print(f"file: {args.lines:,} {'quoted ' if args.quoted else ''}lines, {size_mb:,.0f} MiB; median of {args.repeats} fresh processes")
        print(f"{'reader':<12}{'rows':>12}{'seconds':>10}{'peak MiB':>10}{'x file':>8}{'(python+imports MiB)':>22}")
        for name, reader in readers.items():
            result = measure(path, reader, args.repeats)
            ratio = result["peak_mb"] / size_mb
            print(f"{name:<12}{result['rows']:>12,.0f}{result['seconds']:>10.2f}{result['peak_mb']:>10,.0f}{ratio:>8.1f}{result['baseline_mb']:>22,.0f}")


if __name__ == "__main__":
    main()
