"""What `assay trace` costs when it re-reads every byte, against trusting DVC's state cache (--fast).

Runs in a project where the pipeline has run (`make demo`, or `make real` for the real profile;
`--root` names another checkout). For each traced path: median wall time of REPEATS traces by
content and with --fast (the state cache warm), the bytes hashed, and the hashing rate.
Usage: python benchmarks/trace_verify.py [--root DIR] [--repeats 5] [PATH ...]
(default paths: models/<domain> for every domain in params.yaml that has a model).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's code, not an installed assay
from assay.lineage.trace import Tracer, open_repo, trace  # noqa: E402


def timed(root: Path, path: str, by_content: bool) -> tuple[float, int, str]:
    """One trace in a fresh DVC repo object (as the CLI runs it): seconds, bytes hashed, state."""
    start = time.perf_counter()
    repo = open_repo(root)
    try:
        tracer = Tracer(repo, by_content=by_content)
        node = trace(repo, path, tracer=tracer)
    finally:
        repo.close()
    return time.perf_counter() - start, tracer.bytes_read, node.state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, default=Path("."))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("paths", nargs="*")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    root = args.root.resolve()
    domains = (yaml.safe_load((root / "params.yaml").read_text()) or {}).get("domains") or {}
    paths = args.paths or [f"models/{domain}" for domain in domains if (root / "models" / domain).is_dir()]
    if not paths:
        print(f"nothing to trace under {root}: run the pipeline first (make demo / make real)")
        return
    print(f"project {root}, median of {args.repeats} traces each")
    print(f"{'path':<36}{'state':>8}{'hashed':>11}{'content s':>11}{'fast s':>9}{'ratio':>7}{'MB/s':>8}")
    for path in paths:
        timed(root, path, by_content=False)  # warm DVC's state cache and the page cache
        content = [timed(root, path, by_content=True) for _ in range(args.repeats)]
        fast = [timed(root, path, by_content=False) for _ in range(args.repeats)]
        content_s = statistics.median(run[0] for run in content)
        fast_s = statistics.median(run[0] for run in fast)
        hashed = content[0][1]
        rate = hashed / 2**20 / max(content_s - fast_s, 1e-9)
        print(f"{path:<36}{content[0][2]:>8}{hashed / 2**20:>9.1f}MB{content_s:>11.2f}{fast_s:>9.2f}{content_s / fast_s:>7.1f}{rate:>8.0f}")


if __name__ == "__main__":
    main()
