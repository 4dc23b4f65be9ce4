"""Generator throughput: training tokens per second and sampling rows per second, per domain.

Runs on demo data (params.yaml) and, when ../shared/data is present, on real data
(params.real.yaml; throughput does not depend on how many rows there are, so each measurement
trains one epoch on at most --max-rows rows, privacy checks off). A domain that fails prints why
and the others still run. Runs this checkout's code, whatever assay is installed. On an NVIDIA GPU it also reports model FLOPs
utilisation: achieved training FLOPs (6 x parameters x tokens, plus attention) over the card's
bf16 peak (--peak-tflops, default 989 for H100/H200 SXM dense bf16).

``--sample-batches 512 4096`` times sampling at each batch size. ``--floor`` says how far
sampling is from what the machine can do: the forward FLOPs a tabular row costs (per column: the
transformer layers on one token, attention over the cached columns, and the scores of that
column's own ids) and this machine's fp32 matrix-multiply rate (torch, a 1024 x 1024 product),
so the most rows per second any sampler could reach here, and the share of it reached.

Usage: python benchmarks/generator.py [--profiles demo real] [--max-rows 20000] [--sample-rows 2000] [--vs-generate]
       [--sample-batches 512 4096] [--floor]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's code, not an installed assay
SHARED = ROOT.parent / "shared" / "data"


def clean_data(params_file: str, domain: str):
    from assay.config import load_params
    from assay.data.clean import clean_frame
    from assay.ingest.sources import ingest_domain

    params = load_params(ROOT / params_file)
    spec = params.domain(domain)
    interim, _ = ingest_domain(domain, spec, ROOT)
    return spec, clean_frame(interim, spec, b"bench-key").clean


def generate_rows_per_second(model, codec, rows: int, batch_size: int) -> float:  # noqa: ANN001
    """Rows per second of ``model.generate`` with each position masked to its column's legal ids:
    the sampler before the static-cache column loop (functional dependencies left out, which
    only makes it faster)."""
    import torch
    from transformers import LogitsProcessorList

    blocked = torch.ones(codec.n_columns + 1, model.config.vocab_size, dtype=torch.bool)
    for position, column in enumerate(codec.columns):
        blocked[position, column.offset : column.offset + column.n_legal] = False
    blocked[codec.n_columns, codec.eos_id] = False

    def column_block(ids, scores):  # noqa: ANN001, ANN202
        return scores.masked_fill(blocked[min(ids.shape[1] - 1, codec.n_columns)].to(scores.device), float("-inf"))

    started = time.perf_counter()
    for start in range(0, rows, batch_size):
        prompts = torch.full((min(batch_size, rows - start), 1), codec.bos_id, device=model.device)
        with torch.inference_mode():
            model.generate(
                input_ids=prompts,
                attention_mask=torch.ones_like(prompts),
                do_sample=True,
                top_k=0,
                max_new_tokens=codec.n_columns + 1,
                logits_processor=LogitsProcessorList([column_block]),
                pad_token_id=codec.pad_id,
                eos_token_id=codec.eos_id,
            )
    return rows / (time.perf_counter() - started)


def matmul_gflops(size: int = 1024, repeats: int = 20) -> float:
    """This machine's fp32 matrix-multiply rate through torch (median of ``repeats``), in GFLOP/s."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    timings = []
    for _ in range(repeats + 2):
        started = time.perf_counter()
        a @ b
        timings.append(time.perf_counter() - started)
    return 2 * size**3 / float(np.median(timings[2:])) / 1e9


def forward_flops_per_row(config, codec) -> float:  # noqa: ANN001
    """FLOPs of sampling one tabular row with a key/value cache: per column, 24 d^2 per layer for
    the token's projections and MLP (2 per multiply-add), 4 d (p + 1) per layer for attention over
    the p + 1 cached positions, and 2 d per legal id of that column's scores."""
    d, layers = config.n_embd, config.n_layer
    return float(sum(layers * (24 * d * d + 4 * d * (position + 1)) + 2 * d * column.n_legal for position, column in enumerate(codec.columns)))


def measure(
    profile: str,
    params_file: str,
    domain: str,
    max_rows: int,
    sample_rows: int,
    peak_tflops: float,
    vs_generate: bool = False,
    sample_batches: list[int] | None = None,
) -> dict:
    import torch

    from assay.config import GeneratorSpec
    from assay.generator.model import pick_device
    from assay.generator.training import train_on_splits
    from assay.generator.variants import load_generator

    spec, clean = clean_data(params_file, domain)
    clean = clean.sample(fraction=1.0, shuffle=True, seed=0)
    n_dev = max(50, min(2000, clean.height // 10))
    train, dev = clean.slice(n_dev, max_rows), clean.head(n_dev)
    # Throughput only: one epoch, and no privacy checks during training (they need
    # privacy_check_every epochs and may keep no checkpoint; benchmarks/privacy_training.py measures them).
    settings = spec.trained_generator().model_dump()
    generator = GeneratorSpec.model_validate(
        {**settings, "train": {**settings["train"], "max_epochs": 1}, "privacy": {**settings["privacy"], "enabled": False}}
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        train.write_parquet(folder / "train.parquet")
        dev.write_parquet(folder / "dev.parquet")
        metrics = train_on_splits(
            domain, generator, folder / "train.parquet", folder / "dev.parquet", folder / "model", folder / "live", folder / "ckpt", device=pick_device()
        )
        trained = load_generator(folder / "model")
        trained.model.to("cuda" if torch.cuda.is_available() else "cpu")
        n = sample_rows if trained.kind == "tabular" else max(8, sample_rows // 50)

        def draw_rate(rows: int, batch: int) -> float:
            started = time.perf_counter()
            trained.draw(rows, batch, 1.0, np.random.default_rng(0))
            return rows / (time.perf_counter() - started)

        sampling = draw_rate(n, generator.sample.batch_size)
        tabular = trained.kind == "tabular"
        baseline = generate_rows_per_second(trained.model, trained.codec, n, generator.sample.batch_size) if vs_generate and tabular else None
        by_batch = {batch: draw_rate(max(n, batch), batch) for batch in sample_batches or []} if tabular else {}
        flops_per_row = forward_flops_per_row(trained.model.config, trained.codec) if tabular else None
    result = {
        "profile": profile,
        "domain": domain,
        "train_rows": train.height,
        "params": metrics["parameters"],
        "device": metrics["device"],
        "tokens_per_s": metrics["train_tokens_per_second"],
        "rows_per_s": sampling,
        "generate_rows_per_s": baseline,
        "rows_per_s_by_batch": by_batch,
        "forward_flops_per_row": flops_per_row,
        "unit": "units" if trained.kind == "text" else "rows",
    }
    if metrics["device"] == "cuda":
        m = generator.model
        seq = getattr(trained.config, "max_length", None) or (len(trained.config.features) + 2)
        flops_per_token = 6 * metrics["parameters"] + 12 * m.n_layer * m.n_embd * seq
        result["mfu"] = metrics["train_tokens_per_second"] * flops_per_token / (peak_tflops * 1e12)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profiles", nargs="*", default=["demo", "real"])
    parser.add_argument("--domains", nargs="*", default=["records", "transactions", "course_material"])
    parser.add_argument("--max-rows", type=int, default=20_000)
    parser.add_argument("--sample-rows", type=int, default=2_000)
    parser.add_argument("--peak-tflops", type=float, default=989.0)
    parser.add_argument("--vs-generate", action="store_true", help="Also time model.generate on the same rows (tabular domains): the sampler it replaced.")
    parser.add_argument("--sample-batches", nargs="*", type=int, default=[], help="Also time sampling at these batch sizes (tabular domains).")
    parser.add_argument("--floor", action="store_true", help="Print the FLOPs per sampled row and the rows/s this machine's matmul rate allows.")
    args = parser.parse_args()
    gflops = matmul_gflops() if args.floor else None
    if gflops:
        print(f"fp32 matrix multiply on this machine (torch, 1024 x 1024): {gflops:,.0f} GFLOP/s")
    logging.disable(logging.WARNING)
    files = {"demo": "params.yaml", "real": "params.real.yaml", "gpu": "params.gpu.yaml"}
    print(f"{'profile':<8}{'domain':<17}{'train rows':>11}{'params':>11}{'device':>8}{'train tok/s':>13}{'sample/s':>10}{'MFU':>7}")
    for profile in args.profiles:
        if profile != "demo" and not SHARED.is_dir():
            print(f"{profile}: skipped, real datasets not found at {SHARED}")
            continue
        for domain in args.domains:
            try:
                r = measure(profile, files[profile], domain, args.max_rows, args.sample_rows, args.peak_tflops, args.vs_generate, args.sample_batches)
            except Exception as error:  # one domain failing must not hide the others' figures
                print(f"{profile:<8}{domain:<17} failed: {str(error).splitlines()[0] if str(error) else type(error).__name__}")
                continue
            mfu = f"{r['mfu']:.1%}" if "mfu" in r else "-"
            print(
                f"{profile:<8}{domain:<17}{r['train_rows']:>11,}{r['params']:>11,}{r['device']:>8}{r['tokens_per_s']:>13,.0f}"
                f"{r['rows_per_s']:>9,.0f} {r['unit'][0]}{mfu:>7}"
                + (f"   generate: {r['generate_rows_per_s']:,.0f}/s ({r['rows_per_s'] / r['generate_rows_per_s']:.1f}x)" if r["generate_rows_per_s"] else "")
            )
            for batch, rate in r["rows_per_s_by_batch"].items():
                print(f"{'':<25}sampling in batches of {batch:,}: {rate:,.0f} rows/s")
            if gflops and r["forward_flops_per_row"]:
                ceiling = gflops * 1e9 / r["forward_flops_per_row"]
                best = max([r["rows_per_s"], *r["rows_per_s_by_batch"].values()])
                print(
                    f"{'':<25}{r['forward_flops_per_row'] / 1e6:.1f} MFLOP per row: at most {ceiling:,.0f} rows/s at the matmul rate; "
                    f"the best measured ({best:,.0f} rows/s) is {best / ceiling:.0%} of it"
                )


if __name__ == "__main__":
    main()
