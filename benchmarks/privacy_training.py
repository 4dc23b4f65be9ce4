"""Privacy-aware training on the real records data: checks on vs off, side by side (issue 8).

Builds the real clean records (params.real.yaml), splits them as the pipeline does, trains the
CPU-profile generator twice on the same train split (privacy checks on, then off), samples as
many synthetic rows as the train split has, and evaluates both with the `evaluate` stage's own
code: TSTR/TRTR ROC AUC, detection AUC, DCR ratios against holdout rows, exact copies and the
closer-to-train share. --train-rows and --dev-rows cap the splits (time: about 75 s per epoch for 30k rows on
2 cores); the figures say which caps were used.

Usage: python benchmarks/privacy_training.py [--train-rows 30000] [--max-epochs 10]
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"


def flat(prefix: str, data: object, out: dict[str, object]) -> dict[str, object]:
    if isinstance(data, dict):
        for key, value in data.items():
            flat(f"{prefix}.{key}" if prefix else str(key), value, out)
    else:
        out[prefix] = data
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train-rows", type=int, default=30_000)
    parser.add_argument("--max-epochs", type=int, default=10)
    parser.add_argument("--dev-rows", type=int, default=3_000, help="Cap on the dev split (evaluated every epoch).")
    parser.add_argument("--out", type=Path, default=None, help="Also write the results as JSON here.")
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"skipped: real datasets not found at {SHARED}")
        return
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("assay").setLevel(logging.INFO)
    import numpy as np

    from stages.clean import clean_frame
    from stages.config import GeneratorSpec, load_params
    from stages.evaluate import evaluate_frames
    from stages.ingest import ingest_domain
    from stages.split import split_frame
    from stages.synthesize import assemble, load_generator, sample_tabular
    from stages.train import train_generator
    from stages.validate import load_suite

    domain = load_params(ROOT / "params.real.yaml").domain("records")
    interim, _ = ingest_domain("records", domain, ROOT)
    clean = clean_frame(interim, domain, b"bench-key").clean
    identifiers = [name for name, column in domain.columns.items() if column.identifier]
    splits = split_frame(clean, domain.split, identifiers).splits
    train = splits["train"].sample(n=min(args.train_rows, splits["train"].height), shuffle=True, seed=0)
    dev = splits["dev"].sample(n=min(args.dev_rows, splits["dev"].height), shuffle=True, seed=0)
    test = splits["test"]
    suite = load_suite(ROOT / "expectations" / "records.json")
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        train.write_parquet(folder / "train.parquet")
        dev.write_parquet(folder / "dev.parquet")
        for mode in ("privacy checks on", "privacy checks off"):
            base = domain.generator.model_dump()
            spec = GeneratorSpec.model_validate(
                {**base, "train": {**base["train"], "max_epochs": args.max_epochs}, "privacy": {**base["privacy"], "enabled": mode.endswith("on")}}
            )
            name = "on" if mode.endswith("on") else "off"
            started = time.perf_counter()
            metrics = train_generator(
                "records",
                spec,
                folder / "train.parquet",
                folder / "dev.parquet",
                folder / name,
                folder / f"{name}-live",
                folder / f"{name}-ckpt",
                [domain.split.group_by],
            )
            train_seconds = time.perf_counter() - started
            model, _, generator = load_generator(folder / name)
            sampled, _ = sample_tabular(
                model, generator, train.height, spec.sample.batch_size, spec.sample.temperature, np.random.default_rng(spec.sample.seed)
            )
            synthetic = assemble(sampled, domain, dict(train.schema), train)
            report, _ = evaluate_frames("records", domain, train, dev, test, synthetic, suite)
            results[mode] = {
                "train_rows": train.height,
                "epochs_run": metrics["epochs_run"],
                "chosen_epoch": metrics["best_epoch"],
                "train_seconds": round(train_seconds, 1),
                "privacy_check_share_of_training": (metrics["privacy"] or {}).get("check_share_of_training_time"),
                "chosen_check": (metrics["privacy"] or {}).get("chosen"),
                "checks": (metrics["privacy"] or {}).get("checks", []),
                "evaluation": flat("", {k: v for k, v in report.items() if not isinstance(v, list)}, {}),
            }
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, default=str))
    for mode, result in results.items():
        for check in result["checks"]:
            print(
                f"{mode}: epoch {check['epoch']}: dev loss {check['dev_loss']:.4f}, closer-to-train {check['closer_to_train_share']:.4f} "
                f"(threshold {check['closer_to_train_threshold']:.4f}), DCR p5 ratio {check['dcr_p5_ratio']:.3f}, "
                f"copies {check['exact_copy_rate']:.4f} (threshold {check['exact_copy_threshold']:.4f}): {'within' if check['within_threshold'] else 'beyond'}"
            )
    keys = sorted({key for r in results.values() for key in r["evaluation"] if key.startswith("generator.") and isinstance(r["evaluation"][key], int | float)})
    print(f"\nreal records, train capped at {args.train_rows:,} rows, dev at {args.dev_rows:,}, at most {args.max_epochs} epochs, CPU profile")
    print(f"{'figure':<58}" + "".join(f"{mode:>22}" for mode in results))
    for key in ("epochs_run", "chosen_epoch", "train_seconds", "privacy_check_share_of_training"):
        print(f"{key:<58}" + "".join(f"{str(r[key]):>22}" for r in results.values()))
    for key in ("closer_to_train_share", "dcr_p5_ratio", "dcr_median_ratio", "exact_copy_rate"):
        values = [(r["chosen_check"] or {}).get(key) for r in results.values()]
        print(f"{'training check: ' + key:<58}" + "".join(f"{'-' if v is None else round(v, 4):>22}" for v in values))
    for key in keys:
        print(
            f"{key:<58}"
            + "".join(
                f"{round(r['evaluation'].get(key), 4) if isinstance(r['evaluation'].get(key), float) else r['evaluation'].get(key)!s:>22}"
                for r in results.values()
            )
        )


if __name__ == "__main__":
    main()
