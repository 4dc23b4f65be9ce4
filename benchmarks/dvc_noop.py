"""`dvc repro` with nothing to do: its wall time, and where that time goes (issue 19, item 7).

Target: under 1.5 s. Copies this checkout's tracked files to a scratch repository, stands in a
small placeholder for every pipeline output that is not there (the no-op check reads hashes
and sizes, never what a model holds), records them with `dvc commit`, and times REPEATS runs
of `dvc repro` that find nothing to do. `--profile` runs one more under cProfile and splits its
time: params files read (once per stage that lists params), dvc.yaml/dvc.lock read and
templated (`foreach`), each dep and out checked against dvc.lock, DVC's per-stage read/write
locks, imports.
Usage: python benchmarks/dvc_noop.py [--repeats 5] [--profile] [--keep DIR]
"""

from __future__ import annotations

import argparse
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's code, not an installed assay
from assay.workspace import tool_environment  # noqa: E402

# Where a no-op `dvc repro` spends its time, by the functions that own it (cumulative, so the
# lines overlap a little: a params file read is YAML parsing too).
SPLIT = {
    "params files read (per stage with params)": "dependency/param.py:37(read_param_file)",
    "dvc.yaml and dvc.lock read, foreach expanded": "repo/index.py:318(from_repo)",
    "deps and outs checked against dvc.lock": "stage/__init__.py:360(changed)",
    "DVC's per-stage read/write locks": "rwlock.py:187(rwlock)",
    "all YAML parsing": "serialize/_yaml.py:24(parse_yaml)",
}


def scratch(folder: Path) -> None:
    """A copy of the checkout's tracked files, every pipeline output present, dvc.lock in step."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, folder / name)
    env = tool_environment(folder)
    subprocess.run(["git", "init", "-q"], cwd=folder, check=True)
    subprocess.run(["git", "add", "-A"], cwd=folder, check=True)
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", "scratch"], cwd=folder, env=env, check=True)
    from dvc.repo import Repo

    with Repo(str(folder)) as repo:
        outs = sorted({out.fs_path for stage in repo.index.stages for out in stage.outs})
        deps = sorted({dep.fs_path for stage in repo.index.stages for dep in stage.deps if hasattr(dep, "fs_path")})
    # Files a stage reads inside another's output folder (a split's train.parquet) first.
    for path in map(Path, deps):
        if not path.exists() and path.suffix and any(path.is_relative_to(out) for out in outs):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"placeholder for {path.name}\n")
    for path in map(Path, outs):
        if path.exists():
            continue
        if path.suffix:  # a file output: a few bytes stand in for it
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"placeholder for {path.name}\n")
        else:  # a folder output (a model, Data Docs): a handful of files
            path.mkdir(parents=True, exist_ok=True)
            for index in range(6):
                (path / f"part-{index}").write_text(f"placeholder {index}\n")
    subprocess.run([sys.executable, "-m", "dvc", "commit", "--force", "--quiet"], cwd=folder, env=env, check=True)


def repro(folder: Path, *prefix: str) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *prefix, "-m", "dvc", "repro"], cwd=folder, env=tool_environment(folder), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode or "up to date" not in done.stdout:
        raise SystemExit(f"dvc repro did something or failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--keep", type=Path, help="build the scratch repository here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        scratch(folder)
        repro(folder)  # warms DVC's state cache of file hashes, as a second run in a real project would have it
        times = [repro(folder) for _ in range(args.repeats)]
        print(f"dvc repro with nothing to do: {statistics.median(times):.2f} s (median of {args.repeats}; min {min(times):.2f}, max {max(times):.2f})")
        print("target: under 1.5 s")
        if args.profile:
            profile = folder / ".dvc" / "tmp" / "noop.prof"
            repro(folder, "-m", "cProfile", "-o", str(profile))
            stats = pstats.Stats(str(profile))
            total = max(entry[3] for entry in stats.stats.values())  # type: ignore[attr-defined]
            print(f"\nunder cProfile ({total:.2f} s, slower than without it), cumulative time in:")
            for label, where in SPLIT.items():
                spent = sum(entry[3] for key, entry in stats.stats.items() if f"{key[0]}:{key[1]}({key[2]})".endswith(where))  # type: ignore[attr-defined]
                calls = sum(entry[1] for key, entry in stats.stats.items() if f"{key[0]}:{key[1]}({key[2]})".endswith(where))  # type: ignore[attr-defined]
                print(f"  {label:<46}{spent:>6.2f} s {spent / total:>5.0%}  ({calls} calls)")


if __name__ == "__main__":
    main()
