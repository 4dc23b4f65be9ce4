"""Validation time on the real clean data, and the share of it spent inside Great Expectations.

Target (issue 19, item 3): the real online-retail suite in 3 s or less on 2 cores.
Builds the real clean data in memory (ingest + clean from params.real.yaml, this checkout's
code), then validates it REPEATS times and prints medians: the whole call (conversion to pandas,
GX's validate calls, our summary) and the time inside GX.
Usage: python benchmarks/validate.py [--repeats 3] [--domains transactions records]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))  # this checkout's code, not an installed assay


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--domains", nargs="*", default=["transactions", "records"])
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"skipped: real datasets not found at {SHARED}")
        return
    logging.disable(logging.WARNING)
    import assay.quality.validate as validate
    from assay.config import load_params
    from assay.data.clean import clean_frame
    from assay.ingest.sources import ingest_domain

    params = load_params(ROOT / "params.real.yaml")
    # Time the pieces by wrapping the GX call and the pandas conversion.
    timings: dict[str, float] = {"gx": 0.0}
    batch_definition = validate._batch_definition()

    class TimedBatchDefinition:
        def get_batch(self, batch_parameters):
            batch = batch_definition.get_batch(batch_parameters=batch_parameters)
            original = batch.validate

            def timed_validate(*a, **k):
                start = time.perf_counter()
                result = original(*a, **k)
                timings["gx"] += time.perf_counter() - start
                return result

            batch.validate = timed_validate
            return batch

    validate._batch_definition = lambda: TimedBatchDefinition()
    print(f"{'domain':<14}{'rows':>9}{'expectations':>14}{'total s':>9}{'in GX s':>9}{'GX share':>10}   (median of {args.repeats})")
    for domain in args.domains:
        spec = params.domain(domain)
        interim, _ = ingest_domain(domain, spec, ROOT)
        clean = clean_frame(interim, spec, b"bench-key").clean
        suite = validate.load_suite(ROOT / "expectations" / f"{domain}.json")
        validate.validate_frame(clean.head(1000), suite)  # warm GX's context and imports
        totals, gx = [], []
        for _ in range(args.repeats):
            timings["gx"] = 0.0
            start = time.perf_counter()
            summary = validate.validate_frame(clean, suite)
            totals.append(time.perf_counter() - start)
            gx.append(timings["gx"])
        total, inside = statistics.median(totals), statistics.median(gx)
        print(f"{domain:<14}{clean.height:>9,}{summary['evaluated']:>14}{total:>9.2f}{inside:>9.2f}{inside / total:>10.0%}")
    print("target: transactions total <= 3 s on 2 cores")


if __name__ == "__main__":
    main()
