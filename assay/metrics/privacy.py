"""Privacy metrics for synthetic data: pure functions on arrays, reusable outside the pipeline.

The ``evaluate`` stage calls these on the released synthetic set; a training loop can call them
on samples every few epochs (numpy in, numpy out; ``device="cuda"`` runs the distance kernel
with torch on a GPU). Nothing here reads files or knows about params.

**Rows as numbers.** Tabular functions take rows already encoded as a float matrix with one
column per table column, as :meth:`assay.generator.codec.TabularCodec.features` gives:

- numeric, date and date-time columns range-normalised to [0, 1] (train min and max);
- categorical columns as a code per category (any float; only equality matters), marked by the
  boolean vector ``is_categorical``;
- a missing value as ``MISSING`` (-1.0) in every column.

**The distance** (:func:`mixed_distance_to_closest`) between two rows is the mean over columns
of: ``|a - b|`` for two present numbers, 0 or 1 for two categories (equal or not), 1 when one
side is missing and 0 when both are. It is in [0, 1]: 0 means the rows are identical in every
column, 1 that they share nothing. (It is the range-normalised Gower distance with missing values
treated as a value of their own.) Numeric columns are summed with ``torch.cdist(p=1)`` over a
two-number encoding of each value, ``(x/2, (1-x)/2)`` and ``(-1/4, -1/4)`` for missing, whose L1
distances are exactly the per-column terms above; categorical mismatches are counted with
``torch.cdist(p=0)``. Queries are processed in chunks so a chunk's distance matrix stays under
about 64 MiB; there is no Python loop over rows.

**What the metrics say** (each compares synthetic rows with real rows the generator never saw,
the *holdout*, because real data is the yardstick for how close is too close):

- *distance to closest record* (DCR): from each synthetic row to the train set, next to the same
  from each holdout row. If synthetic rows sit closer to train than unseen real rows do (a 5th
  percentile ratio under 1), the generator reproduces its training rows rather than the
  population. :func:`dcr_summary`.
- *closer to train*: the share of synthetic rows whose nearest train row is nearer than their
  nearest holdout row. For rows drawn from the population it is ``|train| / (|train| + |holdout|)``
  (0.5 for equal-size samples, which is how the stage calls it); more means memorisation.
  :func:`closer_to_train_share` returns the ideal with the share.
- *exact copies*: the share of synthetic rows equal to a train row, next to the same for holdout
  rows (real data has natural duplicates). :func:`exact_copy_rate`.
- *membership inference*: an attacker who holds the synthetic set and a candidate real row
  guesses "it was in train" when the row is close to some synthetic row. The ROC AUC of that
  score over train members against holdout non-members is 0.5 when the synthetic set leaks
  nothing about membership and 1.0 when it contains the train rows. :func:`membership_inference_auc`.
- *verbatim spans* (text): the share of texts that contain a run of ``span`` (50) or more
  characters found verbatim in the reference texts. :func:`verbatim_span_share`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from assay.io import round_figure

MISSING = -1.0
CHUNK_ELEMENTS = 1 << 24  # a chunk's distance matrix: 16M float32 = 64 MiB
_HASH_BASE = np.uint64(0x9E3779B97F4A7C15)  # an odd 64-bit multiplier; arithmetic wraps mod 2**64
_HASH_INVERSE = pow(int(_HASH_BASE), -1, 1 << 64)
_HASH_CHUNK_CHARS = 1 << 22  # characters hashed at a time (4M: about 100 MiB of working arrays)


# ---------------------------------------------------------------------------------------------
# distances


def _matrix(values: Any, name: str) -> Any:
    """``values`` (numpy array or torch tensor) as a 2-D float32 CPU tensor; the caller moves it."""
    import torch

    tensor = values if isinstance(values, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))
    if tensor.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (rows x columns), got shape {tuple(tensor.shape)}")
    return tensor.float()


def _numeric_pairs(values: Any) -> Any:
    """Each numeric value as two numbers whose L1 distances give the per-column distance (module docstring)."""
    import torch

    missing = values < 0
    x = values.clamp(0.0, 1.0)
    pairs = torch.stack([torch.where(missing, -0.25, x / 2), torch.where(missing, -0.25, (1 - x) / 2)], dim=-1)
    return pairs.reshape(values.shape[0], -1)


def mixed_distance_to_closest(
    query: Any,
    reference: Any,
    is_categorical: Sequence[bool] | np.ndarray,
    *,
    chunk: int | None = None,
    device: str | None = None,
) -> np.ndarray:
    """For each query row, the distance (module docstring) to its closest reference row, in [0, 1].

    ``query`` (n x c) and ``reference`` (m x c) are numpy arrays or torch tensors encoded as the
    module docstring says; ``is_categorical`` has one flag per column. ``chunk`` is the number of
    query rows per block (default: as many as keep a block's matrix near 64 MiB). ``device``
    (e.g. ``"cuda"``) runs the kernel with torch there; results come back as float64 numpy.
    Same inputs give the same output (the kernel has no randomness and a fixed summation order).
    """
    import torch

    q, r = _matrix(query, "query"), _matrix(reference, "reference")
    flags = torch.as_tensor(np.asarray(is_categorical, dtype=bool))
    if q.shape[1] != flags.numel() or r.shape[1] != flags.numel():
        raise ValueError(f"query has {q.shape[1]} columns and reference {r.shape[1]}, but is_categorical has {flags.numel()} flags")
    if r.shape[0] == 0:
        raise ValueError("reference has no rows: there is nothing to be close to")
    n_columns = flags.numel()
    if q.shape[0] == 0 or n_columns == 0:
        return np.zeros(q.shape[0], dtype=np.float64)
    target = torch.device(device) if device else torch.device("cpu")
    numeric, categorical = ~flags, flags
    r_num = _numeric_pairs(r[:, numeric]).to(target) if numeric.any() else None
    r_cat = r[:, categorical].to(target) if categorical.any() else None
    rows = chunk or max(1, CHUNK_ELEMENTS // r.shape[0])
    out = torch.empty(q.shape[0], dtype=torch.float64)
    for start in range(0, q.shape[0], rows):
        block = q[start : start + rows].to(target)
        distance = torch.zeros(block.shape[0], r.shape[0], device=target)
        if r_num is not None:
            distance += torch.cdist(_numeric_pairs(block[:, numeric]).unsqueeze(0), r_num.unsqueeze(0), p=1.0)[0]
        if r_cat is not None:
            distance += torch.cdist(block[:, categorical].unsqueeze(0), r_cat.unsqueeze(0), p=0.0)[0]
        out[start : start + block.shape[0]] = distance.min(dim=1).values.double().cpu() / n_columns
    return out.numpy()


# ---------------------------------------------------------------------------------------------
# summaries


def _ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator; 1.0 when both are 0; None (undefined) when only the denominator is."""
    if denominator > 0:
        return numerator / denominator
    return 1.0 if numerator == 0 else None


def dcr_summary(synthetic_to_train: np.ndarray, holdout_to_train: np.ndarray, quantile: float = 0.05) -> dict[str, float | None]:
    """5th percentile (``quantile``) and median of both DCR samples, and synthetic / holdout ratios.

    A ratio of 1 or more means synthetic rows are no closer to train than unseen real rows are.
    A ratio is None when the holdout value is 0 and the synthetic one is not (undefined, and not
    a privacy concern: the synthetic rows are the farther ones); it is 1.0 when both are 0.
    """
    syn, hold = np.asarray(synthetic_to_train, dtype=np.float64), np.asarray(holdout_to_train, dtype=np.float64)
    if syn.size == 0 or hold.size == 0:
        raise ValueError("dcr_summary needs at least one distance on each side")
    s_low, s_mid = np.quantile(syn, quantile), np.median(syn)
    h_low, h_mid = np.quantile(hold, quantile), np.median(hold)
    return {
        "synthetic_p5": round_figure(s_low),
        "synthetic_median": round_figure(s_mid),
        "holdout_p5": round_figure(h_low),
        "holdout_median": round_figure(h_mid),
        "p5_ratio": round_figure(_ratio(s_low, h_low)),
        "median_ratio": round_figure(_ratio(s_mid, h_mid)),
    }


def closer_to_train_flags(to_train: np.ndarray, to_holdout: np.ndarray) -> np.ndarray:
    """Per row: 1 when nearer a train row than a holdout row, 0.5 on a tie, else 0 (distances in)."""
    return np.where(to_train < to_holdout, 1.0, np.where(to_train == to_holdout, 0.5, 0.0))


def closer_to_train_share(
    synthetic: Any, train: Any, holdout: Any, is_categorical: Sequence[bool] | np.ndarray, *, chunk: int | None = None, device: str | None = None
) -> dict[str, float]:
    """Share of synthetic rows nearer to train than to holdout (ties count half), and its ideal.

    The ideal, for rows drawn from the same population, is ``|train| / (|train| + |holdout|)``;
    pass equal-size samples to make it 0.5. ``excess`` is share minus ideal (above 0: leaning
    towards the training rows).
    """
    to_train = mixed_distance_to_closest(synthetic, train, is_categorical, chunk=chunk, device=device)
    to_holdout = mixed_distance_to_closest(synthetic, holdout, is_categorical, chunk=chunk, device=device)
    share = float(closer_to_train_flags(to_train, to_holdout).mean()) if to_train.size else 0.0
    n_train, n_holdout = len(train), len(holdout)
    ideal = n_train / (n_train + n_holdout)
    return {"share": round_figure(share), "ideal": round_figure(ideal), "excess": round_figure(share - ideal)}


def _row_keys(values: Any) -> np.ndarray:
    array = np.ascontiguousarray(np.asarray(values))
    if array.ndim != 2:
        raise ValueError(f"expected a 2-D array (rows x columns), got shape {array.shape}")
    if array.dtype.kind == "f":
        array = array + 0.0  # -0.0 and 0.0 are the same value
    return array.view(np.dtype((np.void, array.dtype.itemsize * array.shape[1]))).ravel()


def exact_copy_flags(query: Any, reference: Any) -> np.ndarray:
    """Per query row: True when it equals, in every column, at least one reference row.

    Any 2-D arrays of one dtype work: features, token ids, or per-row hashes of raw values.
    """
    keys, reference_keys = _row_keys(query), _row_keys(reference)
    if np.asarray(query).shape[1:] != np.asarray(reference).shape[1:]:
        raise ValueError("query and reference must have the same number of columns")
    return np.isin(keys, reference_keys)


def exact_copy_rate(query: Any, reference: Any) -> float:
    """Share of query rows equal to some reference row (see :func:`exact_copy_flags`); 0 for no rows."""
    flags = exact_copy_flags(query, reference)
    return float(flags.mean()) if flags.size else 0.0


def raw_row_hashes(frame: Any, columns: list[str]) -> np.ndarray:
    """One 64-bit hash per row of a polars frame's raw values in ``columns`` (rows x 1), for exact copies.

    Hashes are comparable within a run and between frames with the same dtypes.
    """
    return frame.select(columns).hash_rows(seed=0).to_numpy().reshape(-1, 1)


def distance_auc(member_distances: np.ndarray, non_member_distances: np.ndarray) -> float:
    """ROC AUC of "closer means member": P(member nearer than non-member), ties counting half."""
    from scipy.stats import rankdata

    members, others = np.asarray(member_distances, dtype=np.float64), np.asarray(non_member_distances, dtype=np.float64)
    if members.size == 0 or others.size == 0:
        raise ValueError("distance_auc needs at least one member and one non-member")
    ranks = rankdata(-np.concatenate([members, others]))  # larger score (smaller distance) ranks higher
    u = ranks[: members.size].sum() - members.size * (members.size + 1) / 2
    return float(u / (members.size * others.size))


def membership_inference_auc(
    members: Any,
    non_members: Any,
    synthetic: Any,
    is_categorical: Sequence[bool] | np.ndarray,
    *,
    chunk: int | None = None,
    device: str | None = None,
) -> float:
    """AUC of a distance attack: train ``members`` vs holdout ``non_members``, scored by closeness to ``synthetic``.

    About 0.5: the synthetic set tells an attacker nothing about who was in train; 1.0: it holds
    the train rows themselves. Use equal-size member and non-member samples.
    """
    to_members = mixed_distance_to_closest(members, synthetic, is_categorical, chunk=chunk, device=device)
    to_others = mixed_distance_to_closest(non_members, synthetic, is_categorical, chunk=chunk, device=device)
    return distance_auc(to_members, to_others)


# ---------------------------------------------------------------------------------------------
# verbatim text


def _codepoints(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """All texts' characters as one uint64 array, and each text's start offset (plus the end)."""
    lengths = np.fromiter((len(text) for text in texts), dtype=np.int64, count=len(texts))
    starts = np.concatenate([[0], np.cumsum(lengths)])
    chars = np.frombuffer("".join(texts).encode("utf-32-le"), dtype="<u4").astype(np.uint64)
    return chars, starts


def _powers(base: int, count: int) -> np.ndarray:
    """``base**0 .. base**(count - 1)`` mod 2**64."""
    powers = np.full(count, base, dtype=np.uint64)
    powers[0] = 1
    with np.errstate(over="ignore"):
        return np.cumprod(powers, dtype=np.uint64)


def _window_hashes(chars: np.ndarray, starts: np.ndarray, span: int) -> tuple[np.ndarray, np.ndarray]:
    """Polynomial hash ``sum(c[i+k] * B**(span-1-k))`` mod 2**64 of every ``span``-character window
    inside one text, and the window's start.

    With ``S[i] = sum(c[j] * B**-j for j < i)`` (B is odd, so it has an inverse mod 2**64) the
    hash of the window at ``i`` is ``(S[i+span] - S[i]) * B**(i+span-1)``: a few passes over the
    characters whatever the span. Windows that cross a text boundary are dropped.
    """
    if chars.size < span:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    n = chars.size - span + 1
    with np.errstate(over="ignore"):
        prefix = np.zeros(chars.size + 1, dtype=np.uint64)
        np.cumsum(chars * _powers(_HASH_INVERSE, chars.size), dtype=np.uint64, out=prefix[1:])
        hashes = (prefix[span:] - prefix[:n]) * _powers(int(_HASH_BASE), chars.size)[span - 1 :]
    positions = np.arange(n, dtype=np.int64)
    owners = np.searchsorted(starts, positions, side="right") - 1
    inside = positions + span <= starts[owners + 1]
    return hashes[inside], positions[inside]


def _chunks(texts: Sequence[str]) -> list[tuple[int, int]]:
    """[start, end) index ranges of texts holding about ``_HASH_CHUNK_CHARS`` characters each."""
    ranges, start, size = [], 0, 0
    for index, text in enumerate(texts):
        size += len(text)
        if size >= _HASH_CHUNK_CHARS:
            ranges.append((start, index + 1))
            start, size = index + 1, 0
    if start < len(texts):
        ranges.append((start, len(texts)))
    return ranges


def _same_span(texts: Sequence[str], index: int, offset: int, reference_texts: Sequence[str], location: np.ndarray, span: int) -> bool:
    ref_text, ref_offset = reference_texts[int(location[0])], int(location[1])
    return texts[index][offset : offset + span] == ref_text[ref_offset : ref_offset + span]


def verbatim_span_flags(texts: Sequence[str], reference_texts: Sequence[str], span: int = 50) -> np.ndarray:
    """Per text, True when it contains a ``span``-character run that occurs verbatim in a reference text.

    Every window of the reference is hashed (a 64-bit polynomial hash, vectorised over windows)
    into a sorted array; each text's windows are looked up in it, and a hit is confirmed by
    comparing the characters, so there are no false positives (a miss would need two different
    reference windows with the same 64-bit hash, and the query to match the one not kept). Characters are compared as they are (no
    case or whitespace folding; the clean stage has already collapsed whitespace).
    """
    if span < 1:
        raise ValueError(f"span must be at least 1, got {span}")
    texts, reference_texts = list(texts), list(reference_texts)
    flags = np.zeros(len(texts), dtype=bool)
    if not texts or not reference_texts:
        return flags
    hashes, where = [], []
    for lo, hi in _chunks(reference_texts):
        chars, starts = _codepoints(reference_texts[lo:hi])
        h, positions = _window_hashes(chars, starts, span)
        owners = np.searchsorted(starts, positions, side="right") - 1
        hashes.append(h)
        where.append(np.stack([owners + lo, positions - starts[owners]], axis=1))
    all_hashes = np.concatenate(hashes)
    if all_hashes.size == 0:
        return flags
    order = np.argsort(all_hashes)
    table, locations = all_hashes[order], np.concatenate(where)[order]
    for lo, hi in _chunks(texts):
        chars, starts = _codepoints(texts[lo:hi])
        h, positions = _window_hashes(chars, starts, span)
        # Looking up sorted keys walks the table once instead of jumping around it.
        by_hash = np.argsort(h)
        slot_sorted = np.minimum(np.searchsorted(table, h[by_hash]), table.size - 1)
        found = table[slot_sorted] == h[by_hash]
        hit = np.sort(by_hash[found])
        slot = np.empty_like(slot_sorted)
        slot[by_hash] = slot_sorted
        owners = np.searchsorted(starts, positions[hit], side="right") - 1
        offsets = positions[hit] - starts[owners]
        # Confirm each text's first hit; only a text whose first hit was a hash collision (almost
        # never) has its other hits checked one by one.
        _, first_hits = np.unique(owners, return_index=True)
        unconfirmed = []
        for i in first_hits:
            if not _same_span(texts, lo + int(owners[i]), int(offsets[i]), reference_texts, locations[slot[hit[i]]], span):
                unconfirmed.append(int(owners[i]))
            else:
                flags[lo + int(owners[i])] = True
        for owner in unconfirmed:
            for i in np.flatnonzero(owners == owner):
                if _same_span(texts, lo + owner, int(offsets[i]), reference_texts, locations[slot[hit[i]]], span):
                    flags[lo + owner] = True
                    break
    return flags


def verbatim_span_share(texts: Sequence[str], reference_texts: Sequence[str], span: int = 50) -> float:
    """Share of ``texts`` that contain a run of ``span`` characters found verbatim in ``reference_texts``."""
    flags = verbatim_span_flags(texts, reference_texts, span)
    return float(flags.mean()) if flags.size else 0.0
