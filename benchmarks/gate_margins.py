"""Release-gate margins on the demo profile, measured over several training runs.

A gate that passes only with one machine's exact floats fails on the next machine. This script
measures how far each gate figure sits from its threshold, in standard deviations of that figure
over independent runs:

1. Copies the working tree to a scratch folder and times a full ``dvc repro`` there (the README's
   first command on a fresh clone, after installation); ``--repro-runs`` repeats it for a median.
2. On that copy's splits, runs train -> synthesize -> evaluate per domain, ``--runs`` times
   (default 5): run i trains with seed i and samples with seed 1000 + i, and the last two runs
   use one CPU thread (``ASSAY_NUM_THREADS=1``), so thread-count effects are in the spread.
3. Prints, per domain and gate check, the mean, sd, min and max of the figure, the baseline's
   mean, the threshold, and the margin ``(mean - threshold) / sd`` (signed so that positive means
   passing). It exits 1 when any margin is under ``--min-sds`` (default 3), or a run failed.

Usage: python benchmarks/gate_margins.py [--runs 5] [--repro-runs 1] [--domains records ...]
       [--keep DIR] (keep the scratch folder) [--json FILE] (write the table as JSON)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # measure this checkout's code, not an installed copy

from assay.workspace import copy_working_tree, dvc, train_synthesize_evaluate  # noqa: E402

SINGLE_THREAD_RUNS = 2  # the last runs train and sample on one thread


def timed_repro(repo: Path) -> float:
    started = time.perf_counter()
    result = dvc(repo, "repro")
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"error: dvc repro failed in {repo} ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return seconds


def run_params(repo: Path, run: int) -> Path:
    """params.yaml with every domain's training seed set to ``run`` and sampling seed to 1000 + run.

    Written beside params.yaml: paths inside params are relative to the params file.
    """
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for spec in params["domains"].values():
        spec["generator"]["train"]["seed"] = run
        spec["generator"]["sample"]["seed"] = 1000 + run
    path = repo / f"params.run{run}.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def margin(values: list[float], threshold: float, bound: str) -> float:
    mean = statistics.fmean(values)
    distance = mean - threshold if bound == "min" else threshold - mean
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    if sd == 0.0:
        return float("inf") if distance > 0 else float("-inf")
    return distance / sd


def summarise(results: dict[str, list[dict]], min_sds: float) -> tuple[list[dict], list[str]]:
    rows, problems = [], []
    for domain, runs in results.items():
        failed = [r for r in runs if "failed" in r]
        for r in failed:
            problems.append(f"{domain}: a run failed at {r['failed']}: {r['message']}")
        reports = [r for r in runs if "failed" not in r]
        if not reports:
            continue
        for check in reports[0]["gate_checks"]:
            key, metric, bound, threshold = check["check"], check["metric"], check["bound"], check["threshold"]
            values = [next(c["value"] for c in r["gate_checks"] if c["check"] == key) for r in reports]
            if any(v is None for v in values):
                problems.append(f"{domain} {metric}: not measured in every run")
                continue
            baseline = [r.get("baseline", {}).get(metric) for r in reports]
            sds = margin(values, threshold, bound)
            row = {
                "domain": domain,
                "metric": metric,
                "bound": bound,
                "threshold": threshold,
                "mean": statistics.fmean(values),
                "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
                "min": min(values),
                "max": max(values),
                "baseline_mean": statistics.fmean(baseline) if all(b is not None for b in baseline) else None,
                "margin_sds": sds,
                "passed_runs": sum(next(c["passed"] for c in r["gate_checks"] if c["check"] == key) for r in reports),
                "runs": len(reports),
            }
            rows.append(row)
            if sds < min_sds:
                problems.append(f"{domain} {metric}: margin {sds:.1f} sd, under {min_sds:g}")
    return rows, problems


def print_table(rows: list[dict]) -> None:
    def number(value: float | None) -> str:
        return "-" if value is None else f"{value:.4g}"

    header = "| domain | figure | threshold | mean | sd | min | max | baseline mean | margin (sd) | runs passed |"
    print(header)
    print("|" + "---|" * header.count(" | ") + "---|")
    for row in rows:
        sign = ">=" if row["bound"] == "min" else "<="
        shown = "inf" if row["margin_sds"] == float("inf") else f"{row['margin_sds']:.1f}"
        print(
            f"| {row['domain']} | {row['metric']} | {sign} {row['threshold']:g} | {number(row['mean'])} | {number(row['sd'])} | "
            f"{number(row['min'])} | {number(row['max'])} | {number(row['baseline_mean'])} | {shown} | {row['passed_runs']}/{row['runs']} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--repro-runs", type=int, default=1, help="full dvc repro timings (the first also makes the splits)")
    parser.add_argument("--domains", nargs="*", help="default: every domain in params.yaml")
    parser.add_argument("--min-sds", type=float, default=3.0)
    parser.add_argument("--keep", type=Path, help="keep the scratch folder here")
    parser.add_argument("--json", type=Path, help="write the table and timings as JSON")
    args = parser.parse_args()

    scratch = args.keep or Path(tempfile.mkdtemp(prefix="assay-gate-margins-"))
    scratch.mkdir(parents=True, exist_ok=True)
    repro_seconds = []
    for attempt in range(max(1, args.repro_runs)):
        repo = copy_working_tree(ROOT, scratch / f"repo{attempt}")
        seconds = timed_repro(repo)
        repro_seconds.append(seconds)
        print(f"full demo dvc repro {attempt + 1}/{args.repro_runs}: {seconds:.0f} s", flush=True)
    repo = scratch / "repo0"
    domains = args.domains or list(yaml.safe_load((repo / "params.yaml").read_text())["domains"])

    results: dict[str, list[dict]] = {domain: [] for domain in domains}
    for run in range(args.runs):
        threads = 1 if run >= args.runs - SINGLE_THREAD_RUNS else None
        run_dir = scratch / f"run{run}"
        run_dir.mkdir(exist_ok=True)
        params = run_params(repo, run)
        for domain in domains:
            started = time.perf_counter()
            report = train_synthesize_evaluate(repo, domain, params, run_dir / domain, threads)
            results[domain].append(report)
            if "failed" in report:
                status = f"failed at {report['failed']}: {report['message']}"
            else:
                status = "gate passed" if report["release_gate_passed"] else "gate FAILED"
            print(f"run {run} (seed {run}, {threads or 'all'} thread(s)) {domain}: {status} ({time.perf_counter() - started:.0f} s)", flush=True)

    rows, problems = summarise(results, args.min_sds)
    print()
    print_table(rows)
    print()
    print(f"full demo dvc repro: median {statistics.median(repro_seconds):.0f} s of {len(repro_seconds)} ({', '.join(f'{s:.0f}' for s in repro_seconds)} s)")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "repro_seconds": repro_seconds, "problems": problems}, indent=2, default=str))
    for problem in problems:
        print(f"margin problem: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
