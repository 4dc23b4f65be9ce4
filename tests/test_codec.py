"""The tabular codec: encode/decode round trips per column kind, dtypes, determinism, JSON, constrained sampling, tails, speed."""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from assay.generator.codec import (
    BOS_ID,
    EOS_ID,
    MISSING,
    MISSING_FEATURE,
    OTHER,
    PAD_ID,
    TabularCodec,
)
from assay.generator.sampling import sample_tabular_tokens
from tests.conftest import REPO_ROOT

N = 400


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    """Mixed columns: frequent and rare categories, small and large integers, floats, dates, datetimes, nulls."""
    rng = np.random.default_rng(7)
    colour = rng.choice(["red", "green", "blue"], size=N).astype(object)
    colour[:3] = ["mauve", "teal", "teal"]  # rarer than rare_count=5
    colour[3:8] = None
    flag = rng.random(N) < 0.3
    visits = rng.integers(0, 4, size=N)
    visits[10] = 57  # a single outlier: too rare to pool, so it encodes as the nearest exact value
    price = np.round(rng.lognormal(1.0, 0.8, size=N), 2)
    start = datetime(2011, 1, 1)
    stamps = [start + timedelta(minutes=int(m)) for m in rng.integers(0, 60 * 24 * 90, size=N)]
    days = [date(2011, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 365, size=N)]
    return pl.DataFrame(
        {
            "colour": pl.Series(colour.tolist(), dtype=pl.String),
            "flag": pl.Series(flag.tolist(), dtype=pl.Boolean),
            "visits": pl.Series(visits.tolist(), dtype=pl.Int64),
            "count32": pl.Series((rng.integers(0, 1000, size=N)).tolist(), dtype=pl.Int32),
            "price": pl.Series([None if i % 50 == 0 else p for i, p in enumerate(price.tolist())], dtype=pl.Float64),
            "day": pl.Series(days, dtype=pl.Date),
            "stamp": pl.Series(stamps, dtype=pl.Datetime("us")),
        }
    )


@pytest.fixture(scope="module")
def codec(frame: pl.DataFrame) -> TabularCodec:
    return TabularCodec.fit(frame, frame.columns, numeric_bins=16, rare_count=5)


def decoded(codec: TabularCodec, frame: pl.DataFrame, seed: int = 0) -> pl.DataFrame:
    out, parsed = codec.decode(codec.encode(frame), np.random.default_rng(seed))
    assert parsed.all()
    return out


def bin_of(codec: TabularCodec, name: str, tokens: np.ndarray) -> np.ndarray:
    col = next(c for c in codec.columns if c.name == name)
    return np.asarray(col.bins)[tokens - col.offset]


def test_kinds_and_layout(codec: TabularCodec) -> None:
    kinds = {col.name: col.kind for col in codec.columns}
    assert kinds == {
        "colour": "categorical",
        "flag": "categorical",
        "visits": "discrete",
        "count32": "binned",
        "price": "binned",
        "day": "binned",
        "stamp": "binned",
    }
    assert (codec.pad_id, codec.bos_id, codec.eos_id) == (PAD_ID, BOS_ID, EOS_ID) == (0, 1, 2)
    assert codec.columns[0].offset == 3
    assert codec.vocab_size == 3 + sum(col.size for col in codec.columns)
    colour = codec.columns[0]
    assert colour.values == ["blue", "green", "red"]
    # OTHER holds only values too rare to emit (no pool), so it is ordered last and never sampled
    assert colour.specials == [MISSING, OTHER] and colour.n_legal == 4 and colour.pool == []


def test_categorical_round_trip_is_exact_and_rare_values_are_never_emitted(codec: TabularCodec, frame: pl.DataFrame) -> None:
    out = decoded(codec, frame)
    expected = frame["colour"].to_list()
    expected[:3] = [None] * 3  # "mauve" and "teal" are rarer than rare_count: OTHER, with nothing to draw
    assert out["colour"].to_list() == expected
    assert "mauve" not in str(codec.to_dict()) and "teal" not in str(codec.to_dict())
    assert out["flag"].to_list() == frame["flag"].to_list()


def test_small_integer_columns_are_exact(codec: TabularCodec, frame: pl.DataFrame) -> None:
    out = decoded(codec, frame)
    original = frame["visits"].to_list()
    assert [v for i, v in enumerate(out["visits"].to_list()) if i != 10] == [v for i, v in enumerate(original) if i != 10]
    assert out["visits"][10] == 3  # the lone outlier 57 is not reproduced: it maps to the nearest exact value
    assert 57 not in [b for pair in codec.columns[2].bins for b in pair]


def test_numbers_and_dates_decode_within_their_bin_on_the_seen_grid(codec: TabularCodec, frame: pl.DataFrame) -> None:
    tokens = codec.encode(frame)
    out = decoded(codec, frame)
    for j, name in enumerate(codec.column_names):
        if codec.columns[j].kind != "binned":
            continue
        present = frame[name].is_not_null().to_numpy()
        bins = bin_of(codec, name, tokens[present, j])
        physical = out[name].filter(pl.Series(present)).to_physical().cast(pl.Float64).to_numpy()
        assert np.all(physical >= bins[:, 0] - 1e-9) and np.all(physical <= bins[:, 1] + 1e-9), name
    assert out["count32"].dtype == pl.Int32
    prices = out["price"].drop_nulls().to_numpy()
    assert np.allclose(prices, np.round(prices, 2))  # two decimals seen, two decimals written
    assert codec.columns[4].decimals == 2
    stamps = out["stamp"].drop_nulls()
    assert (stamps.dt.second() == 0).all() and (stamps.dt.microsecond() == 0).all()  # whole minutes, as seen
    assert codec.columns[6].step == 60_000_000


def test_nulls_round_trip_through_missing(codec: TabularCodec, frame: pl.DataFrame) -> None:
    out, frame = decoded(codec, frame).slice(3), frame.slice(3)  # rows 0-2 hold rare colours (OTHER, nothing to draw)
    for name in frame.columns:
        assert out[name].is_null().to_list() == frame[name].is_null().to_list(), name


def test_decode_then_encode_gives_the_same_tokens(codec: TabularCodec, frame: pl.DataFrame) -> None:
    # every token that may be sampled; rows 0-2 hold an OTHER with nothing to draw, which sampling never gives
    tokens = codec.encode(frame.slice(3))
    assert all(((tokens[:, j] >= start) & (tokens[:, j] < end)).all() for j, (start, end) in enumerate(codec.allowed_token_ranges()))
    out, _ = codec.decode(tokens, np.random.default_rng(3))
    assert np.array_equal(codec.encode(out), tokens)


def test_decoded_frame_keeps_columns_and_dtypes() -> None:
    frame = pl.DataFrame(
        {
            "cat": pl.Series(["x", "y"] * 10, dtype=pl.Categorical),
            "enum": pl.Series(["lo", "hi"] * 9 + ["mid", "mid"], dtype=pl.Enum(["lo", "mid", "hi"])),
            "small": pl.Series(list(range(20)), dtype=pl.UInt8),
            "f32": pl.Series(np.linspace(0, 1, 20), dtype=pl.Float32),
            "tz": pl.Series([datetime(2020, 1, 1, h) for h in range(20)], dtype=pl.Datetime("ms", "UTC")),
        }
    )
    codec = TabularCodec.fit(frame, frame.columns, rare_count=3)
    out, parsed = codec.decode(codec.encode(frame), np.random.default_rng(0))
    assert parsed.all()
    assert out.schema == frame.schema == pl.Schema(codec.schema)
    assert out["enum"].to_list()[-2:] == [None, None]  # OTHER of an Enum without "other" is null


def test_fit_and_decode_are_deterministic(codec: TabularCodec, frame: pl.DataFrame) -> None:
    again = TabularCodec.fit(frame, frame.columns, numeric_bins=16, rare_count=5)
    assert again == codec
    tokens = codec.encode(frame)
    first, _ = codec.decode(tokens, np.random.default_rng(11))
    second, _ = codec.decode(tokens, np.random.default_rng(11))
    other, _ = codec.decode(tokens, np.random.default_rng(12))
    assert first.equals(second)
    assert not first.equals(other)


def test_to_dict_from_dict_round_trips_through_json(codec: TabularCodec, frame: pl.DataFrame) -> None:
    restored = TabularCodec.from_dict(json.loads(json.dumps(codec.to_dict())))
    assert restored == codec
    assert np.array_equal(restored.encode(frame), codec.encode(frame))
    assert restored.decode(codec.encode(frame), np.random.default_rng(1))[0].equals(codec.decode(codec.encode(frame), np.random.default_rng(1))[0])


def test_from_dict_rejects_other_formats_and_broken_layouts(codec: TabularCodec) -> None:
    with pytest.raises(ValueError) as error:
        TabularCodec.from_dict({"format": "something", "version": 1, "columns": []})
    assert "assay-tabular-codec" in str(error.value)
    broken = codec.to_dict()
    broken["columns"][1]["offset"] += 1
    with pytest.raises(ValueError) as error:
        TabularCodec.from_dict(broken)
    assert "'flag'" in str(error.value) and "contiguous" in str(error.value)


def test_fit_errors_name_the_problem(frame: pl.DataFrame) -> None:
    with pytest.raises(ValueError) as error:
        TabularCodec.fit(frame, ["colour", "nope"])
    assert "nope" in str(error.value)
    with pytest.raises(TypeError) as type_error:
        TabularCodec.fit(pl.DataFrame({"tags": [["a"], ["b"]]}), ["tags"])
    assert "'tags'" in str(type_error.value)
    with pytest.raises(ValueError) as error:
        TabularCodec.fit(frame.clear(), ["colour"])
    assert "empty" in str(error.value)
    with pytest.raises(ValueError) as error:
        TabularCodec.fit(frame, ["colour"], numeric_bins=1)
    assert "numeric_bins" in str(error.value)


def test_bad_tokens_do_not_parse(codec: TabularCodec, frame: pl.DataFrame) -> None:
    tokens = codec.encode(frame.head(6))
    tokens[0, 0] = PAD_ID
    tokens[1, 2] = BOS_ID
    tokens[2, 6] = EOS_ID
    tokens[3, 1] = codec.columns[0].offset  # a colour id in the flag column
    tokens[4, 6] = codec.vocab_size
    out, parsed = codec.decode(tokens, np.random.default_rng(0))
    assert parsed.tolist() == [False, False, False, False, False, True]
    assert out.height == 6 and out.row(0) == (None,) * codec.n_columns
    with pytest.raises(ValueError) as error:
        codec.decode(tokens[:, :3], np.random.default_rng(0))
    assert "shape" in str(error.value)


def test_unseen_specials_are_encodable_but_not_sampled(codec: TabularCodec) -> None:
    flag = codec.columns[1]
    assert flag.n_legal == len(flag.values) == flag.size - 2  # no rare and no null flag at fit
    start, end = codec.allowed_token_ranges()[1]
    assert (start, end) == (flag.offset, flag.offset + flag.n_legal)
    assert flag.special_id(MISSING) >= end
    new = pl.DataFrame({"colour": ["purple", None], "flag": [None, True]}).with_columns(
        pl.lit(1, pl.Int64).alias("visits"),
        pl.lit(5, pl.Int32).alias("count32"),
        pl.lit(2.5).alias("price"),
        pl.lit(date(2011, 5, 5)).alias("day"),
        pl.lit(datetime(2011, 2, 2, 10, 30)).cast(pl.Datetime("us")).alias("stamp"),
    )
    tokens = codec.encode(new)
    assert tokens[0, 0] == codec.columns[0].special_id(OTHER)
    assert tokens[1, 0] == codec.columns[0].special_id(MISSING)
    assert tokens[0, 1] == flag.special_id(MISSING)
    out, parsed = codec.decode(tokens, np.random.default_rng(0))
    assert parsed.all() and out["colour"].to_list() == [None, None] and out["flag"].to_list() == [None, True]


def test_sequences_wrap_rows_in_bos_and_eos(codec: TabularCodec, frame: pl.DataFrame) -> None:
    seqs = codec.sequences(frame)
    assert seqs.shape == (N, codec.n_columns + 2) and seqs.dtype == np.int32
    assert (seqs[:, 0] == BOS_ID).all() and (seqs[:, -1] == EOS_ID).all()
    assert np.array_equal(seqs[:, 1:-1], codec.encode(frame))


def test_a_column_with_one_legal_id_stays_out_of_sequences_and_is_still_sampled(frame: pl.DataFrame) -> None:
    """A column train shows one value of (a medication nobody took) is decided before sampling:
    the model neither reads nor predicts it, and every sampled row still holds its value."""
    frame = frame.with_columns(pl.lit("No").alias("examide"), pl.lit(7, dtype=pl.Int64).alias("ward"))
    codec = TabularCodec.fit(frame, ["colour", "examide", "visits", "ward", "flag"], numeric_bins=16, rare_count=5)
    assert [codec.columns[j].name for j in codec.sequence_positions] == ["colour", "visits", "flag"]
    seqs = codec.sequences(frame)
    assert seqs.shape == (N, 3 + 2) and np.array_equal(seqs[:, 1:-1], codec.encode(frame)[:, [0, 2, 4]])
    model = tiny_model(codec, seed=5)
    tokens = sample_tabular_tokens(model, codec, 64, 32, temperature=1e-4, progress=False)
    out, parsed = codec.decode(tokens, np.random.default_rng(0))
    assert parsed.all() and out["examide"].to_list() == ["No"] * 64 and out["ward"].to_list() == [7] * 64
    # the model reads the sequence columns only: near temperature 0 each is a full forward pass's best id
    fed = tokens[:, codec.sequence_positions]
    with torch.no_grad():
        logits = model(torch.tensor(np.hstack([np.full((64, 1), BOS_ID), fed]), dtype=torch.long)).logits
    for step, position in enumerate(codec.sequence_positions):
        column = codec.columns[position]
        best = logits[:, step, column.offset : column.offset + column.n_legal].argmax(dim=1).numpy() + column.offset
        assert (fed[:, step] == best).all(), column.name


def test_features_are_normalised_with_a_missing_sentinel(codec: TabularCodec, frame: pl.DataFrame) -> None:
    features = codec.features(frame)
    assert features.shape == (N, codec.n_columns) and features.dtype == np.float32
    missing = frame.select(pl.all().is_null()).to_numpy()
    assert np.all(features[missing] == MISSING_FEATURE)
    assert np.all((features[~missing] >= 0.0) & (features[~missing] <= 1.0))
    assert codec.is_categorical.tolist() == [True, True, False, False, False, False, False]
    price = features[:, 4][~missing[:, 4]]
    assert price.min() == 0.0 and price.max() == 1.0


def tiny_model(codec: TabularCodec, seed: int, vocab_size: int | None = None) -> GPT2LMHeadModel:
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=vocab_size or codec.vocab_size, n_layer=1, n_head=2, n_embd=32, n_positions=64)
    return GPT2LMHeadModel(config).eval()


def test_constrained_sampling_from_an_untrained_model_always_parses(codec: TabularCodec) -> None:
    tokens = sample_tabular_tokens(tiny_model(codec, seed=0), codec, 256, 100, temperature=1.0, progress=False)
    assert tokens.shape == (256, codec.n_columns)
    for j, (start, end) in enumerate(codec.allowed_token_ranges()):
        assert ((tokens[:, j] >= start) & (tokens[:, j] < end)).all()
    out, parsed = codec.decode(tokens, np.random.default_rng(0))
    assert parsed.mean() == 1.0
    assert out.schema == pl.Schema(codec.schema)
    assert out["flag"].null_count() == 0  # MISSING was never seen for flag, so it is never sampled


def test_sampling_follows_the_models_distribution(codec: TabularCodec) -> None:
    """Column by column, the ids drawn have the model's softmax over the column's block as their
    frequencies: here the first column, whose scores do not depend on earlier tokens."""
    model = tiny_model(codec, seed=3)
    column = codec.columns[0]
    with torch.no_grad():
        scores = model(torch.tensor([[BOS_ID]])).logits[0, -1, column.offset : column.offset + column.n_legal]
    expected = torch.softmax(scores / 0.7, dim=0).numpy()
    torch.manual_seed(0)
    tokens = sample_tabular_tokens(model, codec, 20_000, 5_000, temperature=0.7, progress=False)
    observed = np.bincount(tokens[:, 0] - column.offset, minlength=column.n_legal) / 20_000
    assert np.abs(observed - expected).max() < 0.015  # binomial sd at 20,000 draws is at most 0.0036


def test_each_column_is_scored_as_a_full_forward_pass_scores_it(codec: TabularCodec) -> None:
    """The cached decoding loop sees every earlier column: near temperature 0 it draws, at each
    column, the best legal id of a full forward pass over the row so far."""
    model = tiny_model(codec, seed=4)
    tokens = sample_tabular_tokens(model, codec, 32, 32, temperature=1e-4, progress=False)
    with torch.no_grad():
        logits = model(torch.tensor(np.hstack([np.full((32, 1), BOS_ID), tokens]), dtype=torch.long)).logits
    for position, column in enumerate(codec.columns):
        best = logits[:, position, column.offset : column.offset + column.n_legal].argmax(dim=1).numpy() + column.offset
        assert (tokens[:, position] == best).all(), column.name


def test_a_model_vocabulary_smaller_than_the_codecs_is_an_error(codec: TabularCodec) -> None:
    with pytest.raises(ValueError) as error:
        sample_tabular_tokens(tiny_model(codec, seed=0, vocab_size=codec.vocab_size - 1), codec, 4, 4, temperature=1.0, progress=False)
    assert "vocabulary" in str(error.value)
    padded = sample_tabular_tokens(tiny_model(codec, seed=0, vocab_size=codec.vocab_size + 5), codec, 64, 64, temperature=1.0, progress=False)
    assert codec.decode(padded, np.random.default_rng(0))[1].all()  # a padded model vocabulary: extra ids are never drawn


def test_rows_with_ids_outside_their_column_do_not_parse(codec: TabularCodec) -> None:
    tokens = sample_tabular_tokens(tiny_model(codec, seed=2), codec, 4, 4, temperature=1.0, progress=False)
    tokens[:, 4:] = PAD_ID
    _, parsed = codec.decode(tokens, np.random.default_rng(0))
    assert not parsed.any()


def test_rare_integer_values_are_pooled_into_ranges() -> None:
    values = [0] * 50 + [1] * 30 + [2] * 10 + [40, 45, 50, 55, 60, 61, 70]
    frame = pl.DataFrame({"n": values})
    codec = TabularCodec.fit(frame, ["n"], rare_count=5)
    bins = codec.columns[0].bins
    assert bins[:3] == [[0, 0], [1, 1], [2, 2]]
    assert all(hi > lo for lo, hi in bins[3:])  # ranges, each holding at least 5 rows
    out = decoded(codec, frame)["n"].to_numpy()
    assert np.array_equal(out[:90], values[:90])
    assert np.all((out[90:] >= 40) & (out[90:] <= 70))


@pytest.mark.parametrize("sigma", [1.0, 2.0])
def test_heavy_tails_are_reproduced(sigma: float) -> None:
    rng = np.random.default_rng(5)
    x = np.round(rng.lognormal(0.0, sigma, size=50_000), 4)
    frame = pl.DataFrame({"x": x})
    codec = TabularCodec.fit(frame, ["x"])
    y = decoded(codec, frame)["x"].to_numpy()
    for q in (0.01, 0.5, 0.99):
        assert abs(np.quantile(y, q) / np.quantile(x, q) - 1) < 0.05, q
    assert y.min() >= x.min() and y.max() <= x.max()
    assert abs(y.mean() / x.mean() - 1) < 0.05


def test_demo_transactions_fit_encode_decode_quickly() -> None:
    path = REPO_ROOT / "data" / "clean" / "transactions.parquet"
    if not path.is_file():
        pytest.skip(f"{path} not built; run `dvc repro` (or make demo) first")
    frame = pl.read_parquet(path)
    columns = [name for name in frame.columns if not name.startswith("_") and name != "CustomerID"]
    frame = pl.concat([frame] * 10)  # ~119k rows
    start = time.perf_counter()
    codec = TabularCodec.fit(frame, columns)
    tokens = codec.encode(frame)
    out, parsed = codec.decode(tokens, np.random.default_rng(0))
    elapsed = time.perf_counter() - start
    assert parsed.all() and out.schema == frame.select(columns).schema
    assert np.array_equal(codec.encode(out), tokens)
    assert elapsed < 10.0, f"fit+encode+decode of {frame.height} rows took {elapsed:.1f}s"


def test_edge_columns_all_rare_all_null_and_a_column_named_count() -> None:
    frame = pl.DataFrame({"count": ["a", "b", "a"], "empty": pl.Series([None, None, None], dtype=pl.Float64), "ids": ["x", "y", "z"]})
    codec = TabularCodec.fit(frame, frame.columns, rare_count=2)
    summary = [(s["name"], s["values_or_bins"], s["legal"], s["masked"]) for s in codec.summary()]
    assert summary == [("count", 1, 1, False), ("empty", 0, 1, False), ("ids", 0, 1, True)]  # ids: every value unique, so masked
    out, parsed = codec.decode(codec.encode(frame), np.random.default_rng(0))
    assert parsed.all()
    assert out.to_dict(as_series=False) == {"count": ["a", None, "a"], "empty": [None] * 3, "ids": [None] * 3}
    assert codec.features(frame)[:, 1].tolist() == [MISSING_FEATURE] * 3


def test_token_names_make_a_word_level_vocabulary(codec: TabularCodec, frame: pl.DataFrame) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    frame = frame.with_columns(pl.Series("note", ["two words"] * 200 + ["<missing>"] * 200))
    codec = TabularCodec.fit(frame, ["note", *codec.column_names], numeric_bins=16, rare_count=5)
    names = codec.token_names()
    assert len(names) == len(set(names)) == codec.vocab_size
    assert names[:3] == ["<pad>", "<bos>", "<eos>"] and not any(" " in name for name in names)
    assert "note=two\u2581words" in names and "colour=<missing>" in names and "visits=3" in names
    assert names[codec.columns[0].special_id(MISSING)] == f"note=<missing>#{codec.columns[0].special_id(MISSING)}"  # the value came first
    tokenizer = Tokenizer(models.WordLevel(vocab={name: i for i, name in enumerate(names)}, unk_token="<pad>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    ids = codec.sequences(frame)[0].tolist()
    assert tokenizer.encode(tokenizer.decode(ids, skip_special_tokens=False)).ids == ids


def test_with_groups_a_value_of_one_person_gets_no_token_of_its_own() -> None:
    """An invoice's timestamp on its 40 lines, or a product only one customer buys, is that
    customer's: with groups, rare_count counts people as well as rows."""
    busy = datetime(2011, 5, 3, 10, 15)
    # 40 lines of one customer's invoice share a timestamp; 200 other lines, one per customer, spread out.
    when = [busy] * 40 + [datetime(2011, 1, 1) + timedelta(hours=7 * i) for i in range(200)]
    product = ["only-mine"] * 40 + [f"p{i % 4}" for i in range(200)]
    customer = ["c-busy"] * 40 + [f"c{i}" for i in range(200)]
    frame = pl.DataFrame({"InvoiceDate": when, "StockCode": product})

    by_rows = TabularCodec.fit(frame, ["InvoiceDate", "StockCode"], numeric_bins=8, rare_count=5)
    by_people = TabularCodec.fit(frame, ["InvoiceDate", "StockCode"], numeric_bins=8, rare_count=5, groups=pl.Series(customer))

    stamp = int(pl.Series([busy]).dt.cast_time_unit(frame["InvoiceDate"].dtype.time_unit).to_physical()[0])
    assert [stamp, stamp] in by_rows.columns[0].bins and "only-mine" in by_rows.columns[1].values
    assert [stamp, stamp] not in by_people.columns[0].bins and "only-mine" not in by_people.columns[1].values
    # Popular values held by many customers keep their tokens.
    assert set(by_people.columns[1].values) == {"p0", "p1", "p2", "p3"}
    with pytest.raises(ValueError, match="groups has 3 keys for 240 rows"):
        TabularCodec.fit(frame, ["StockCode"], groups=pl.Series(["a", "b", "c"]))


def test_with_groups_every_range_bin_holds_rare_count_people() -> None:
    """The last invoice of the period (40 lines, one customer, one timestamp) sits alone in the top
    quantile bin. Counted by rows that bin is safe, yet it is one customer's value, and a range
    [t, t] decodes to t itself. With groups, a range merges until it holds rare_count people."""
    last = datetime(2011, 12, 9, 12, 50)
    when = [datetime(2011, 1, 1) + timedelta(hours=7 * i) for i in range(400)] + [last] * 40
    customer = [f"c{i}" for i in range(400)] + ["c-last"] * 40
    frame = pl.DataFrame({"InvoiceDate": when})
    stamp = int(pl.Series([last]).dt.cast_time_unit(frame["InvoiceDate"].dtype.time_unit).to_physical()[0])

    by_rows = TabularCodec.fit(frame, ["InvoiceDate"], numeric_bins=16, rare_count=5)
    by_people = TabularCodec.fit(frame, ["InvoiceDate"], numeric_bins=16, rare_count=5, groups=pl.Series(customer))

    assert by_rows.columns[0].bins[-1] == [stamp, stamp]
    values = frame["InvoiceDate"].to_physical().to_numpy()
    for lo, hi in by_people.columns[0].bins:
        inside = (values >= lo) & (values <= hi)
        assert len({c for c, hit in zip(customer, inside, strict=True) if hit}) >= 5, (lo, hi)
    assert by_people.columns[0].bins[-1][1] == stamp  # the tail is still kept: the top bin ends at the max


def test_personal_data_never_enters_the_vocabulary_however_often_seen() -> None:
    # A flagged (not masked) email seen 40 times would be a token, and generator.json is published.
    values = ["Cardiology"] * 40 + ["jane.doe@example.org"] * 40 + ["Surgery"] * 40
    frame = pl.DataFrame({"note": values})
    codec = TabularCodec.fit(frame, ["note"], rare_count=5)
    assert codec.columns[0].values == ["Cardiology", "Surgery"]


def _rare_frame() -> pl.DataFrame:
    # 100 rows: two common countries, three held by 5-9 people, two held by 1-2 people
    countries = ["UK"] * 50 + ["France"] * 26 + ["Peru"] * 9 + ["Chile"] * 6 + ["Laos"] * 5 + ["Nauru"] * 2 + ["Tonga"]
    return pl.DataFrame({"country": countries, "person": [f"p{i}" for i in range(len(countries))]})


def test_other_decodes_to_a_pooled_rare_value_with_its_train_frequency() -> None:
    frame = _rare_frame()
    codec = TabularCodec.fit(frame, ["country"], rare_count=20, min_count=5, groups=frame["person"])
    col = codec.columns[0]
    assert col.values == ["France", "UK"] and col.pool == ["Chile", "Laos", "Peru"] and col.pool_counts == [6, 5, 9]
    assert col.specials[0] == OTHER and col.n_legal == 3  # OTHER has values to draw: legal
    tokens = np.full((20_000, 1), col.special_id(OTHER), dtype=np.int32)
    out, parsed = codec.decode(tokens, np.random.default_rng(0))
    shares = out["country"].value_counts(normalize=True).sort("country")
    assert parsed.all() and shares["country"].to_list() == ["Chile", "Laos", "Peru"]
    assert np.allclose(shares["proportion"].to_numpy(), np.array([6, 5, 9]) / 20, atol=0.015)
    # values held by fewer than min_count people are never emitted, nor published with the model
    assert "Nauru" not in str(codec.to_dict()) and "Tonga" not in str(codec.to_dict())


def test_min_count_counts_people_and_cannot_exceed_rare_count() -> None:
    frame = _rare_frame().with_columns(pl.when(pl.col("country") == "Peru").then(pl.lit("one")).otherwise(pl.col("person")).alias("person"))
    codec = TabularCodec.fit(frame, ["country"], rare_count=20, min_count=5, groups=frame["person"])
    assert codec.columns[0].pool == ["Chile", "Laos"]  # Peru's 9 rows are one person's
    with pytest.raises(ValueError, match="min_count must be between 1 and rare_count"):
        TabularCodec.fit(frame, ["country"], rare_count=5, min_count=6)


def test_config_rejects_min_value_count_above_rare_count() -> None:
    from pydantic import ValidationError

    from assay.config import GeneratorSpec

    assert GeneratorSpec(features=["a"], rare_count=20, min_value_count=5).min_value_count == 5
    with pytest.raises(ValidationError, match="must not exceed rare_count"):
        GeneratorSpec(features=["a"], rare_count=5, min_value_count=6)
