"""Ingest + clean throughput and peak memory on the real datasets (../shared/data).

Target (issue 2): online retail (541,909 rows) ingest + clean in 10 s or less on 2 cores.
Runs each domain REPEATS times in fresh subprocesses (so peak memory is per run) and prints
medians. Usage: python benchmarks/ingest_clean.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from assay.data.clean import clean_frame
from assay.config import load_params
from assay.ingest.sources import ingest_domain
from assay.io import write_parquet
import tempfile, logging
logging.disable(logging.INFO)
root = Path(sys.argv[1]); domain = sys.argv[2]
spec = load_params(root / "params.real.yaml").domain(domain)
t0 = time.perf_counter()
interim, _ = ingest_domain(domain, spec, root)
t1 = time.perf_counter()
result = clean_frame(interim, spec, b"bench-key")
with tempfile.TemporaryDirectory() as tmp:
    write_parquet(result.clean, Path(tmp) / "c.parquet"); write_parquet(result.quarantine, Path(tmp) / "q.parquet")
t2 = time.perf_counter()
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rows": interim.height, "ingest_s": t1 - t0, "clean_s": t2 - t1, "peak_mb": peak_mb}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--domains", nargs="*", default=["transactions", "records", "course_material"])
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"skipped: real datasets not found at {SHARED}")
        return
    print(f"{'domain':<16}{'rows':>9}{'ingest s':>10}{'clean s':>9}{'total s':>9}{'rows/s':>11}{'peak MB':>9}   (median of {args.repeats})")
    for domain in args.domains:
        runs = []
        for _ in range(args.repeats):
            out = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), domain], capture_output=True, text=True, check=True, cwd=ROOT)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        ingest = statistics.median(r["ingest_s"] for r in runs)
        clean = statistics.median(r["clean_s"] for r in runs)
        total = statistics.median(r["ingest_s"] + r["clean_s"] for r in runs)
        peak = statistics.median(r["peak_mb"] for r in runs)
        rows = runs[0]["rows"]
        print(f"{domain:<16}{rows:>9,}{ingest:>10.2f}{clean:>9.2f}{total:>9.2f}{rows / total:>11,.0f}{peak:>9.0f}")
    print("target: transactions total <= 10 s on 2 cores")


if __name__ == "__main__":
    main()
