"""Personal data in free text: find it, mask it, and keep it out of clean data and vocabularies.

Plain polars regular expressions, one per kind (no lookaround: polars uses Rust's regex). A
maintained detector would be better, but the ones that fit offline (presidio, scrubadub) need
language models downloaded at run time, which these machines cannot do.

Kinds, in the order a value is labelled when it holds several:

- ``url_with_user``: a URL carrying user info, ``https://user:secret@host/``;
- ``email``: ``name@example.org``;
- ``national_id``: US social security numbers ``123-45-6789`` and UK National Insurance numbers
  ``QQ 12 34 56 C``;
- ``phone``: international ``+44 20 7946 0958`` or grouped ``(555) 123-4567``, ``020 7946 0958``;
- ``raw_identifier``: the whole value equals a raw identifier (an ``identifier: true`` column's
  value before pseudonymisation) seen in the same domain's data.
"""

from __future__ import annotations

import polars as pl

# Order matters: a URL's user info looks like the start of an email address.
PATTERNS: dict[str, str] = {
    "url_with_user": r"[A-Za-z][A-Za-z0-9+.-]*://[^\s/@:]+(?::[^\s/@]*)?@",
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    "national_id": r"\b(?:[0-9]{3}-[0-9]{2}-[0-9]{4}|[A-CEGHJ-PR-TW-Z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D])\b",
    # International with a +, a bracketed area code, a national trunk 0, or US 555-123-4567.
    "phone": "|".join(
        [
            r"\+[0-9]{1,3}[ .-]?(?:\([0-9]{1,4}\)[ .-]?)?[0-9]{2,4}[ .-]?[0-9]{3,4}[ .-]?[0-9]{3,4}",
            r"\([0-9]{2,4}\) ?[0-9]{3,4}[ .-][0-9]{4}",
            r"\b0[0-9]{2,4}[ .-][0-9]{3,4}[ .-][0-9]{3,4}\b",
            r"\b[0-9]{3}-[0-9]{3}-[0-9]{4}\b",
        ]
    ),
}
RAW_IDENTIFIER = "raw_identifier"
KINDS = (*PATTERNS, RAW_IDENTIFIER)
WORDS = {
    "email": "an email address",
    "url_with_user": "a URL with user info",
    "national_id": "a national-id number",
    "phone": "a phone number",
    RAW_IDENTIFIER: "a raw identifier",
}


def kind_found(column: str | pl.Expr, raw_identifiers: pl.Series | None = None) -> pl.Expr:
    """The first kind of personal data in each value, or null."""
    value = pl.col(column) if isinstance(column, str) else column
    found = [pl.when(value.str.contains(pattern)).then(pl.lit(kind)) for kind, pattern in PATTERNS.items()]
    if raw_identifiers is not None and raw_identifiers.len():
        found.append(pl.when(value.is_in(raw_identifiers.implode())).then(pl.lit(RAW_IDENTIFIER)))
    return pl.coalesce(found)


def masked(column: str | pl.Expr, raw_identifiers: pl.Series | None = None) -> pl.Expr:
    """Each value with every piece of personal data replaced by ``<kind>``; a raw identifier becomes ``<raw_identifier>``.

    Unnamed: callers alias the result.
    """
    value = pl.col(column) if isinstance(column, str) else column
    out = value
    for kind, pattern in PATTERNS.items():
        out = out.str.replace_all(pattern, f"<{kind}>")
    if raw_identifiers is not None and raw_identifiers.len():
        out = pl.when(value.is_in(raw_identifiers.implode())).then(pl.lit(f"<{RAW_IDENTIFIER}>")).otherwise(out)
    return out


def holds_personal_data(values: list[str]) -> list[bool]:
    """Whether each value holds personal data of a pattern kind (for vocabularies, which see no raw ids)."""
    series = pl.Series("value", values, dtype=pl.String)
    return pl.select(kind_found(pl.lit(series)).is_not_null()).to_series().to_list()
