"""Deterministic demo CSVs shaped like the project's two real tabular sources.

``make_records_csv`` imitates ``diabetic_data.csv`` (UCI "Diabetes 130-US hospitals") and
``make_transactions_csv`` imitates ``online_retail.csv`` (UCI "Online Retail"): same header, same
column order, same value formats (interval strings such as ``[70-80)``, ``?`` for missing
records values, ``YYYY-MM-DD HH:MM:SS`` dates, prices written like Python floats ``2.1`` /
``18.0``, integer ``CustomerID`` without ``.0``), comma-delimited, ``\\r\\n`` line endings as in the real files and
minimal quoting (only fields holding a comma or a quote are quoted). The real files use CRLF;
the demo files use LF on purpose so that line-ending handling is exercised both ways.

Nothing is copied from the real files: value sets are the real ones, but frequencies, the
product catalogue, customers, patients and every row are invented here from
``numpy.random.default_rng(seed)``. The same seed always gives byte-identical output (no clock,
no hash-order dependence).

The clean part of the data has learnable structure, because later stages train generators on
it and score train-on-synthetic / test-on-real:

* records: patients repeat (about 1.4 encounters per patient); a hidden per-patient frailty
  drives repeat encounters and prior inpatient/emergency visits; ``num_medications`` and
  ``num_lab_procedures`` grow with ``time_in_hospital``; ``diabetesMed`` is ``Yes`` exactly when
  one of the 23 drug columns is not ``No`` and ``change`` is ``Ch`` whenever a drug went
  ``Up``/``Down``; ``readmitted`` (``<30`` about 11%) is driven by ``number_inpatient``,
  ``number_emergency``, ``time_in_hospital`` and the discharge disposition, and expired
  patients (discharge 11/19/20) are never readmitted.
* transactions: invoices of several lines sharing InvoiceNo, InvoiceDate, CustomerID and
  Country; customers come back over the year and keep one Country; each StockCode has one
  Description and a typical UnitPrice (cheaper in bulk, dearer on anonymous "dotcom" orders);
  quantities are heavy-tailed pack multiples; about a quarter of the lines have no CustomerID;
  more trade in the autumn, none on Saturdays.

Injected faults (the kinds found in the real files; each one is counted in the dict returned
next to the bytes; positions come from the seeded generator and each affected line carries
only that one fault, so the counts are exact):

Both files
    ``duplicate_row``: exact copies of a line, written right after the original. The real
    retail file has 5,268 of them (double scans); duplicates also break key uniqueness
    (``encounter_id``).
    ``missing_marker``: values missing where the column is normally complete. Records use the
    dataset's own marker ``?`` (the natural ``?`` in ``weight``, ``payer_code``,
    ``medical_specialty``, ``race`` and ``diag_*`` is part of the data and is not counted);
    transactions use empty fields plus a few ``NULL`` / ``nan`` strings as left by other
    exporters. ``None`` in ``A1Cresult``/``max_glu_serum`` means "not measured" and is data.
    ``stray_whitespace``: leading/trailing spaces (records: ``race``, ``medical_specialty``;
    transactions: ``Description``, ``Country``), so exact category matching fails.
    ``non_numeric``: text in numeric columns (``12a``, ``two``, ``1,25``), so casts must
    report the cell rather than fail the file.
    ``out_of_range``: impossible numbers (records: ``time_in_hospital`` 0 or 99,
    ``num_lab_procedures`` -4, ``num_medications`` 250; transactions: negative
    ``UnitPrice``, ``Quantity`` 0).
    ``ragged_line``: a line with one field too many or too few (broken quoting), which the
    reader must quarantine instead of shifting columns.
    ``direct_identifier_columns``: not a count of lines but of columns holding direct
    identifiers, present exactly as in the real data (records: ``encounter_id``,
    ``patient_nbr``; transactions: ``CustomerID``), so the privacy stage has work to do.

Records only
    ``invalid_category``: ``age`` ``[110-120)`` (impossible interval) and ``gender``
    ``Unknown/Invalid`` (3 rows in the real file).

Transactions only
    ``absurd_quantity``: a single huge order line (like the real 80995 x PAPER CRAFT) whose
    cancellation follows minutes later; the cancellation line is counted in
    ``cancellation_line``.
    ``date_format_us`` (``12/1/2010 8:26``), ``date_format_iso_t`` (``2011-03-04T10:15:00``)
    and ``date_unparseable`` (``31/02/2011 10:00``, ``n/a``, ``2011-02-30 10:00:00``):
    InvoiceDate written differently on single lines, as when files from several systems are
    appended; the real export uses one format only.
    ``mojibake``: UTF-8 text decoded as cp1252 (``CAFÃ‰``, ``CHILDRENâ€™S``, ``NOÃ‹L``; the
    real file has 32 ``Â£``) in Descriptions, and one anonymous single-line invoice whose
    Country is ``CÃ´te d'Ivoire``.
    ``invalid_utf8``: one line whose Description was written in cp1252 (a bare 0xC9 byte for
    ``É``, 0x92 for ``’``; 0xE9 ``é`` as a fallback), so the file is not valid UTF-8 and the
    reader must quarantine that one line.
    ``cancellation_line``: lines of ``C`` invoices, with negative Quantity as in the real file
    (includes ``D`` Discount lines and the absurd order's cancellation).
    ``cancellation_positive_quantity``: ``C`` lines whose Quantity is positive, which the real
    file never has: a sign error.
    ``stock_adjustment``: non-``C`` single-line invoices with UnitPrice 0.0, no CustomerID and
    a note or nothing as Description (``damaged``, ``?``, ``lost in transit``); mostly
    negative Quantity. They are not sales.
    ``non_product_stockcode``: lines with the real file's service codes (``POST``, ``DOT``,
    ``C2``, ``M``, ``D``, ``BANK CHARGES``, ``AMAZONFEE``, ``PADS``), which are not products.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np

RECORDS_COLUMNS: list[str] = [
    "encounter_id", "patient_nbr", "race", "gender", "age", "weight", "admission_type_id",
    "discharge_disposition_id", "admission_source_id", "time_in_hospital", "payer_code",
    "medical_specialty", "num_lab_procedures", "num_procedures", "num_medications",
    "number_outpatient", "number_emergency", "number_inpatient", "diag_1", "diag_2", "diag_3",
    "number_diagnoses", "max_glu_serum", "A1Cresult", "metformin", "repaglinide", "nateglinide",
    "chlorpropamide", "glimepiride", "acetohexamide", "glipizide", "glyburide", "tolbutamide",
    "pioglitazone", "rosiglitazone", "acarbose", "miglitol", "troglitazone", "tolazamide",
    "examide", "citoglipton", "insulin", "glyburide-metformin", "glipizide-metformin",
    "glimepiride-pioglitazone", "metformin-rosiglitazone", "metformin-pioglitazone", "change",
    "diabetesMed", "readmitted",
]  # fmt: skip

TRANSACTIONS_COLUMNS: list[str] = [
    "InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
    "CustomerID", "Country",
]  # fmt: skip

# Keys of the fault dicts, in the order they are filled in (see the module docstring).
RECORDS_FAULT_KINDS: tuple[str, ...] = (
    "missing_marker", "out_of_range", "invalid_category", "stray_whitespace", "non_numeric", "ragged_line",
    "duplicate_row", "direct_identifier_columns",
)  # fmt: skip
TRANSACTIONS_FAULT_KINDS: tuple[str, ...] = (
    "missing_marker", "out_of_range", "non_numeric", "date_format_us", "date_format_iso_t", "date_unparseable",
    "stray_whitespace", "mojibake", "cancellation_line", "cancellation_positive_quantity", "stock_adjustment",
    "absurd_quantity", "non_product_stockcode", "ragged_line", "invalid_utf8", "duplicate_row",
    "direct_identifier_columns",
)  # fmt: skip

_COL = {name: i for i, name in enumerate(RECORDS_COLUMNS)}
_T = {name: i for i, name in enumerate(TRANSACTIONS_COLUMNS)}


# --------------------------------------------------------------------------- shared helpers


def _draw(rng: np.random.Generator, values: list, weights: list[float], size: int) -> list:
    """``size`` values drawn with the given (unnormalised) weights."""
    p = np.asarray(weights, dtype=float)
    idx = rng.choice(len(values), size=size, p=p / p.sum())
    return [values[i] for i in idx]


def _draw_idx(rng: np.random.Generator, weights: list[float], size: int) -> np.ndarray:
    p = np.asarray(weights, dtype=float)
    return rng.choice(len(p), size=size, p=p / p.sum())


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _calibrate(score: np.ndarray, target: float) -> float:
    """Intercept ``a`` with mean(sigmoid(a + score)) == target (bisection, deterministic)."""
    lo, hi = -20.0, 20.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if float(_sigmoid(mid + score).mean()) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


class _Picker:
    """Chooses distinct, not yet faulted line indices for each fault."""

    def __init__(self, rng: np.random.Generator, kinds: list[str]) -> None:
        self.rng = rng
        self.kinds = kinds
        self.used = [False] * len(kinds)

    def take(self, k: int, kinds: tuple[str, ...] = ("clean",), ok: Callable[[int], bool] | None = None) -> list[int]:
        pool = [i for i, kind in enumerate(self.kinds) if kind in kinds and not self.used[i] and (ok is None or ok(i))]
        k = min(k, len(pool))
        if k <= 0:
            return []
        chosen = sorted(int(i) for i in self.rng.choice(np.asarray(pool), size=k, replace=False))
        for i in chosen:
            self.used[i] = True
        return chosen


def _render(
    header: list[str],
    rows: list[list[str]],
    raw: dict[int, str],
    duplicate_after: list[int],
) -> bytes:
    """CSV bytes: minimal quoting, ``\\r\\n`` endings (as the real files); ``raw`` lines are written verbatim.

    Lone surrogates (``\\udce9``) become the single undecodable byte they stand for.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    out = [buf.getvalue()]
    dup = {i: True for i in duplicate_after}
    for i, row in enumerate(rows):
        if i in raw:
            line = raw[i] + "\r\n"
        else:
            buf.seek(0)
            buf.truncate()
            writer.writerow(row)
            line = buf.getvalue()
        out.append(line)
        if i in dup:
            out.append(line)
    return "".join(out).encode("utf-8", errors="surrogateescape")


def _scaled(n_rows: int, rate: float, minimum: int = 1) -> int:
    return max(minimum, int(round(n_rows * rate)))


# --------------------------------------------------------------------------- records

_AGES = ["[0-10)", "[10-20)", "[20-30)", "[30-40)", "[40-50)", "[50-60)", "[60-70)", "[70-80)", "[80-90)", "[90-100)"]
_AGE_W = [0.002, 0.007, 0.016, 0.037, 0.095, 0.17, 0.22, 0.256, 0.17, 0.027]
_WEIGHTS = ["[0-25)", "[25-50)", "[50-75)", "[75-100)", "[100-125)", "[125-150)", "[150-175)", "[175-200)", ">200"]
_WEIGHT_W = [0.015, 0.03, 0.28, 0.42, 0.19, 0.045, 0.011, 0.004, 0.001]
_RACES = ["Caucasian", "AfricanAmerican", "?", "Hispanic", "Other", "Asian"]
_RACE_W = [0.75, 0.19, 0.022, 0.02, 0.015, 0.006]
_PAYERS = ["?", "MC", "HM", "SP", "BC", "MD", "CP", "UN", "CM", "OG", "PO", "DM", "CH", "WC", "OT", "MP", "SI", "FR"]
_PAYER_W = [0.4, 0.32, 0.06, 0.05, 0.045, 0.035, 0.025, 0.024, 0.019, 0.01, 0.006, 0.005, 0.0015, 0.0013, 0.001, 0.0008, 0.0005, 0.0001]
_ADM_TYPES = [1, 2, 3, 4, 5, 6, 7, 8]
_ADM_TYPE_W = [0.53, 0.18, 0.185, 0.0002, 0.047, 0.052, 0.0003, 0.003]
# admission_source_id given the admission type: emergency/urgent, elective, unknown types.
_ADM_SOURCES = [7, 1, 17, 4, 6, 2, 5, 3, 20, 9, 8, 22, 10]
_ADM_SOURCE_W = {
    "acute": [0.78, 0.12, 0.02, 0.03, 0.02, 0.01, 0.01, 0.001, 0.001, 0.001, 0.0003, 0.0002, 0.0001],
    "elective": [0.08, 0.7, 0.04, 0.08, 0.05, 0.03, 0.015, 0.008, 0.001, 0.001, 0.0001, 0.0001, 0.0001],
    "unknown": [0.3, 0.2, 0.4, 0.03, 0.02, 0.01, 0.005, 0.001, 0.02, 0.015, 0.0001, 0.0001, 0.0001],
}
_DISCHARGES = [1, 3, 6, 18, 2, 22, 11, 5, 25, 4, 7, 23, 13, 14, 28, 8, 15, 24, 9, 17, 16, 19, 10, 27, 12, 20]
_DISCHARGE_W = [
    0.59,
    0.137,
    0.127,
    0.036,
    0.021,
    0.0196,
    0.016,
    0.0116,
    0.0097,
    0.008,
    0.0061,
    0.004,
    0.0039,
    0.0037,
    0.0014,
    0.0011,
    0.0006,
    0.0005,
    0.0002,
    0.00014,
    0.0001,
    0.0001,
    0.00006,
    0.00005,
    0.00003,
    0.00002,
]
_DEATH = (11, 19, 20, 21)
_DISCHARGE_EFFECT = {22: 0.9, 5: 0.7, 28: 1.0, 2: 0.4, 3: 0.3, 6: 0.15, 15: 1.2, 9: 1.2, 13: -0.8, 14: -0.7, 23: -0.3, 7: 0.2}
_SPECIALTIES = [
    ("?", 0.49), ("InternalMedicine", 0.144), ("Emergency/Trauma", 0.074), ("Family/GeneralPractice", 0.073),
    ("Cardiology", 0.053), ("Surgery-General", 0.03), ("Nephrology", 0.016), ("Orthopedics", 0.014),
    ("Orthopedics-Reconstructive", 0.012), ("Radiologist", 0.011), ("Pulmonology", 0.0085),
    ("Psychiatry", 0.0084), ("Urology", 0.0067), ("ObstetricsandGynecology", 0.0066),
    ("Surgery-Cardiovascular/Thoracic", 0.0064), ("Gastroenterology", 0.0055), ("Surgery-Vascular", 0.0052),
    ("Surgery-Neuro", 0.0046), ("PhysicalMedicineandRehabilitation", 0.0038), ("Oncology", 0.0034),
    ("Pediatrics", 0.0025), ("Hematology/Oncology", 0.002), ("Neurology", 0.002),
    ("Pediatrics-Endocrinology", 0.0016), ("Otolaryngology", 0.0012), ("Endocrinology", 0.0012),
    ("Surgery-Thoracic", 0.0011), ("Psychology", 0.001), ("Podiatry", 0.001), ("Surgery-Cardiovascular", 0.001),
    ("Pediatrics-CriticalCare", 0.0008), ("Hematology", 0.0008), ("Gynecology", 0.0006), ("Hospitalist", 0.0006),
    ("Radiology", 0.0005), ("Surgeon", 0.0004), ("Surgery-Plastic", 0.0004), ("Osteopath", 0.0004),
    ("Ophthalmology", 0.0004), ("InfectiousDiseases", 0.0004), ("SurgicalSpecialty", 0.0003),
    ("Obsterics&Gynecology-GynecologicOnco", 0.00025), ("Rheumatology", 0.0002), ("Anesthesiology", 0.00012),
    ("Surgery-Colon&Rectal", 0.0001), ("PhysicianNotFound", 0.0001), ("Dentistry", 0.00005), ("Speech", 0.00002),
]  # fmt: skip
_TIME_W = [0.14, 0.169, 0.174, 0.137, 0.098, 0.074, 0.058, 0.043, 0.03, 0.023, 0.018, 0.014, 0.012, 0.01]
_NUM_PROC_W = [0.458, 0.204, 0.125, 0.093, 0.041, 0.03, 0.049]
_NDIAG = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
_NDIAG_W = [0.0022, 0.01, 0.028, 0.054, 0.112, 0.1, 0.102, 0.104, 0.486, 0.0002, 0.0001, 0.0001, 0.0002, 0.0001, 0.0001, 0.0004]
_GLU = ["None", "Norm", ">200", ">300"]
_GLU_W = [0.947, 0.0255, 0.0146, 0.0124]
_A1C = ["None", ">8", "Norm", ">7"]
_A1C_W = [0.833, 0.081, 0.049, 0.037]
# (column, P(not "No"), P(Steady), P(Up), P(Down))
_MEDS = [
    ("metformin", 0.196, 0.92, 0.05, 0.03), ("repaglinide", 0.015, 0.9, 0.07, 0.03),
    ("nateglinide", 0.007, 0.95, 0.035, 0.015), ("chlorpropamide", 0.0009, 0.92, 0.07, 0.01),
    ("glimepiride", 0.051, 0.9, 0.063, 0.037), ("acetohexamide", 0.00001, 1.0, 0.0, 0.0),
    ("glipizide", 0.125, 0.895, 0.061, 0.044), ("glyburide", 0.105, 0.87, 0.077, 0.053),
    ("tolbutamide", 0.00025, 1.0, 0.0, 0.0), ("pioglitazone", 0.072, 0.952, 0.032, 0.016),
    ("rosiglitazone", 0.0625, 0.958, 0.028, 0.014), ("acarbose", 0.003, 0.96, 0.03, 0.01),
    ("miglitol", 0.0004, 0.82, 0.05, 0.13), ("troglitazone", 0.00003, 1.0, 0.0, 0.0),
    ("tolazamide", 0.0004, 0.97, 0.03, 0.0), ("examide", 0.0, 1.0, 0.0, 0.0),
    ("citoglipton", 0.0, 1.0, 0.0, 0.0), ("insulin", 0.534, 0.567, 0.208, 0.225),
    ("glyburide-metformin", 0.007, 0.98, 0.01, 0.01), ("glipizide-metformin", 0.00013, 1.0, 0.0, 0.0),
    ("glimepiride-pioglitazone", 0.00001, 1.0, 0.0, 0.0), ("metformin-rosiglitazone", 0.00002, 1.0, 0.0, 0.0),
    ("metformin-pioglitazone", 0.00001, 1.0, 0.0, 0.0),
]  # fmt: skip
# ICD-9 codes as the real file writes them (leading zeros dropped: "38" is 038, "8" is 008;
# decimals only on 250.xx). Weights: (as diag_1, as diag_2/diag_3).
_DIAG = [
    ("428", 6.8, 5.5), ("414", 6.5, 3.0), ("786", 4.0, 1.0), ("410", 3.6, 0.8), ("486", 3.5, 1.2),
    ("427", 2.8, 4.5), ("491", 2.3, 1.0), ("715", 2.2, 0.9), ("682", 2.0, 1.2), ("434", 2.0, 0.6),
    ("780", 2.0, 1.5), ("996", 2.0, 0.8), ("276", 1.9, 5.9), ("38", 1.7, 0.3), ("599", 1.7, 2.6),
    ("584", 1.6, 1.4), ("250.8", 1.6, 0.3), ("435", 1.3, 0.2), ("562", 1.2, 0.4), ("577", 1.1, 0.3),
    ("403", 1.1, 2.6), ("493", 1.0, 1.2), ("250.6", 1.1, 1.0), ("574", 1.0, 0.3), ("518", 1.0, 1.2),
    ("440", 0.9, 0.6), ("433", 0.8, 0.3), ("789", 0.9, 0.5), ("250.13", 0.8, 0.1), ("250.7", 0.8, 0.1),
    ("820", 0.8, 0.1), ("296", 0.8, 0.5), ("424", 0.7, 1.0), ("415", 0.7, 0.3), ("250.02", 0.7, 2.0),
    ("250.11", 0.6, 0.1), ("8", 0.5, 0.2), ("558", 0.5, 0.3), ("560", 0.5, 0.2), ("578", 0.5, 0.3),
    ("250.12", 0.4, 0.1), ("250.82", 0.4, 0.2), ("250.1", 0.3, 0.1), ("250.4", 0.3, 0.4),
    ("250.03", 0.2, 0.2), ("402", 0.4, 0.6), ("411", 0.5, 2.5), ("416", 0.3, 0.7), ("425", 0.3, 1.0),
    ("530", 0.3, 1.2), ("535", 0.3, 0.3), ("571", 0.3, 0.6), ("585", 0.3, 1.9), ("285", 0.3, 1.8),
    ("280", 0.2, 0.7), ("197", 0.4, 0.7), ("162", 0.4, 0.2), ("153", 0.3, 0.1), ("174", 0.3, 0.2),
    ("311", 0.2, 1.0), ("300", 0.2, 0.6), ("707", 0.4, 2.0), ("824", 0.3, 0.1), ("812", 0.2, 0.1),
    ("998", 0.4, 0.4), ("997", 0.3, 0.4), ("787", 0.3, 0.4), ("788", 0.2, 0.3), ("799", 0.2, 0.4),
    ("466", 0.3, 0.3), ("507", 0.3, 0.2), ("511", 0.3, 0.6), ("482", 0.2, 0.2), ("496", 0.3, 3.2),
    ("401", 0.3, 6.0), ("272", 0.1, 2.0), ("250", 0.1, 8.0), ("250.01", 0.05, 1.2), ("250.92", 0.05, 0.2),
    ("250.41", 0.05, 0.2), ("41", 0.05, 0.6), ("70", 0.05, 0.3), ("42", 0.05, 0.1), ("79", 0.1, 0.05),
    ("53", 0.05, 0.03), ("V57", 1.0, 0.2), ("V58", 0.5, 0.4), ("V45", 0.05, 1.0), ("V43", 0.05, 0.3),
    ("V42", 0.02, 0.2), ("V10", 0.02, 0.5), ("V15", 0.01, 0.5), ("V85", 0.01, 0.2), ("E878", 0.0, 0.4),
    ("E849", 0.0, 0.3), ("E885", 0.0, 0.2), ("E888", 0.0, 0.15), ("E932", 0.0, 0.1), ("E947", 0.0, 0.05),
]  # fmt: skip
_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]


def _records_table(rng: np.random.Generator, n: int) -> list[list[str]]:
    """Clean, sorted-by-encounter rows (strings) for ``n`` encounters."""
    # Patients: a hidden frailty drives repeat encounters, prior visits and readmission.
    frail_p = rng.normal(size=n)
    lam = 0.36 * np.exp(0.55 * frail_p)
    extra = rng.negative_binomial(0.6, 0.6 / (0.6 + lam))
    counts = np.minimum(1 + extra, 40)
    cum = np.cumsum(counts)
    n_pat = int(np.searchsorted(cum, n) + 1)
    counts = counts[:n_pat].copy()
    counts[-1] -= int(cum[n_pat - 1] - n)
    pat = np.repeat(np.arange(n_pat), counts)
    start = np.repeat(np.cumsum(counts) - counts, counts)
    k = np.arange(n) - start  # index of the encounter within its patient
    n_enc = np.repeat(counts, counts)
    has_later = k < n_enc - 1
    frail = frail_p[:n_pat][pat]

    patient_nbr = rng.choice(189_000_000, size=n_pat, replace=False) + 135
    race_p = _draw(rng, _RACES, _RACE_W, n_pat)
    gender_p = _draw(rng, ["Female", "Male"], [0.538, 0.462], n_pat)
    age_p = _draw_idx(rng, _AGE_W, n_pat)
    payer_p = _draw(rng, _PAYERS, _PAYER_W, n_pat)
    age = age_p[pat]
    # Medicare is far more common once patients are old enough for it.
    payer_enc = [payer_p[p] for p in pat]
    old_mc = (age >= 7) & (rng.random(n) < 0.25)
    for i in np.flatnonzero(old_mc):
        if payer_enc[i] != "?":
            payer_enc[i] = "MC"

    weight_known = rng.random(n) < 0.031
    weight_val = _draw(rng, _WEIGHTS, _WEIGHT_W, n)
    adm_type = np.asarray(_draw(rng, _ADM_TYPES, _ADM_TYPE_W, n))
    src = {key: _draw(rng, _ADM_SOURCES, w, n) for key, w in _ADM_SOURCE_W.items()}
    adm_source = [src["acute"][i] if t in (1, 2, 7) else src["elective"][i] if t in (3, 4) else src["unknown"][i] for i, t in enumerate(adm_type.tolist())]
    disch = np.asarray(_draw(rng, _DISCHARGES, _DISCHARGE_W, n))
    disch = np.where(np.isin(disch, _DEATH) & has_later, 1, disch)  # the dead do not come back
    to_snf = (disch == 1) & (age >= 7) & (rng.random(n) < 0.15)
    disch = np.where(to_snf, 3, disch)

    t = _draw_idx(rng, _TIME_W, n) + 1
    t = np.where((disch == 3) & (rng.random(n) < 0.3), np.minimum(t + rng.integers(1, 4, n), 14), t)
    spec_names = [s for s, _ in _SPECIALTIES]
    specialty = _draw(rng, spec_names, [w for _, w in _SPECIALTIES], n)
    surgical = np.asarray([s.startswith(("Surgery", "Orthopedics", "Cardiology")) for s in specialty])
    n_proc = _draw_idx(rng, _NUM_PROC_W, n)
    n_proc = np.where(surgical, np.minimum(n_proc + rng.integers(0, 3, n), 6), n_proc)
    labs = np.clip(np.rint(rng.normal(29 + 2.6 * t, 17)), 1, 126).astype(int)
    labs = np.where(rng.random(n) < 0.03, 1, labs)
    med_mean = 5 + 1.7 * t + 2.3 * n_proc
    n_meds = np.clip(np.rint(rng.gamma(7.0, med_mean / 7.0)), 1, 81).astype(int)
    outp = np.minimum(rng.negative_binomial(0.15, 0.15 / (0.15 + 0.37 * np.exp(0.3 * frail))), 42)
    emer = np.minimum(rng.negative_binomial(0.12, 0.12 / (0.12 + 0.16 * np.exp(0.9 * frail))), 76)
    inp_mean = 0.3 * np.exp(0.8 * frail) + 0.45 * k
    inp = np.minimum(rng.negative_binomial(0.5, 0.5 / (0.5 + inp_mean)), 21)

    n_diag = np.asarray(_draw(rng, _NDIAG, _NDIAG_W, n))
    n_diag = np.where((n_diag < 9) & (rng.random(n) < 0.035 * t), 9, n_diag)  # longer stays, more coded
    codes = [c for c, _, _ in _DIAG]
    d1 = _draw(rng, codes, [w for _, w, _ in _DIAG], n)
    d2 = _draw(rng, codes, [w for _, _, w in _DIAG], n)
    d3 = _draw(rng, codes, [w for _, _, w in _DIAG], n)
    d3_alt = _draw(rng, codes, [w for _, _, w in _DIAG], n)
    miss = rng.random((n, 3))
    for i in range(n):
        if d3[i] == d2[i]:
            d3[i] = d3_alt[i]
        if miss[i, 0] < 0.0002:
            d1[i] = "?"
        if n_diag[i] < 2 or miss[i, 1] < 0.003:
            d2[i] = "?"
        if n_diag[i] < 3 or miss[i, 2] < 0.005:
            d3[i] = "?"

    glu = _draw(rng, _GLU, _GLU_W, n)
    a1c = _draw(rng, _A1C, _A1C_W, n)
    high_a1c = np.asarray([a == ">8" for a in a1c])
    meds: dict[str, list[str]] = {}
    for name, p_any, p_s, p_u, p_d in _MEDS:
        p = np.full(n, p_any)
        if name == "insulin":
            p = np.clip(p + np.where(age <= 4, 0.15, 0.0) + np.where(high_a1c, 0.15, 0.0), 0, 1)
        on = rng.random(n) < p
        level = _draw(rng, ["Steady", "Up", "Down"], [p_s, p_u, p_d], n)
        meds[name] = [level[i] if on[i] else "No" for i in range(n)]
    any_med = np.zeros(n, dtype=bool)
    any_change = np.zeros(n, dtype=bool)
    for name, *_ in _MEDS:
        col = np.asarray(meds[name])
        any_med |= col != "No"
        any_change |= (col == "Up") | (col == "Down")
    switched = any_med & ~any_change & (rng.random(n) < 0.38)
    change = np.where(any_change | switched, "Ch", "No")
    diabetes_med = np.where(any_med, "Yes", "No")

    # Readmission, the demo's utility target (evaluate.target: readmitted at all), is learnable from
    # what the row shows: prior inpatient and emergency visits, outpatient care, the discharge
    # disposition, length of stay, insulin changes and a high A1C. A generator that learns how these
    # columns go together predicts it; the baseline, which draws each column on its own, cannot.
    insulin_moved = np.isin(np.asarray(meds["insulin"]), ["Up", "Down"])
    disch_eff = np.asarray([_DISCHARGE_EFFECT.get(int(d), 0.0) for d in disch])
    age_eff = np.where(age == 0, -1.5, np.where(age == 1, -0.7, 0.0))
    s30 = (
        0.9 * np.minimum(inp, 6) + 0.6 * np.minimum(emer, 4) + 0.3 * t + 2.0 * disch_eff + 0.3 * has_later
        + 0.8 * insulin_moved + 0.5 * (n_diag >= 9) + age_eff + 0.2 * rng.normal(size=n)
    )  # fmt: skip
    s_late = (
        0.9 * np.minimum(inp, 6) + 0.6 * np.minimum(emer, 4) + 1.5 * (outp > 0) + 1.2 * high_a1c + 1.0 * insulin_moved
        + 0.35 * t + 0.04 * n_meds + 0.3 * has_later - 1.0 * (n_diag < 6)
    )  # fmt: skip
    alive = ~np.isin(disch, _DEATH)
    a30 = _calibrate(s30[alive], 0.113)
    p30 = _sigmoid(a30 + s30)
    a_late = _calibrate(s_late[alive], 0.355 / (1 - 0.113))
    p_late = (1 - p30) * _sigmoid(a_late + s_late)
    u = rng.random(n)
    readmitted = np.where(u < p30, "<30", np.where(u < p30 + p_late, ">30", "NO"))
    readmitted = np.where(alive, readmitted, "NO")

    # Encounter ids: sorted unique ints; a patient's k-th encounter gets its k-th smallest id.
    ids = np.unique(rng.integers(12_522, 443_867_222, size=n + n // 10 + 10))
    ids = np.sort(ids[rng.choice(len(ids), size=n, replace=False)])
    slot = rng.permutation(n)
    slot = slot[np.lexsort((slot, pat))]  # patients are contiguous, so slots ascend within each

    rows: list[list[str]] = [[] for _ in range(n)]
    for i in range(n):
        row = [
            str(int(ids[slot[i]])), str(int(patient_nbr[pat[i]])), race_p[pat[i]], gender_p[pat[i]],
            _AGES[int(age[i])], weight_val[i] if weight_known[i] else "?", str(int(adm_type[i])),
            str(int(disch[i])), str(adm_source[i]), str(int(t[i])), payer_enc[i], specialty[i],
            str(int(labs[i])), str(int(n_proc[i])), str(int(n_meds[i])), str(int(outp[i])),
            str(int(emer[i])), str(int(inp[i])), d1[i], d2[i], d3[i], str(int(n_diag[i])), glu[i], a1c[i],
        ]  # fmt: skip
        row += [meds[name][i] for name, *_ in _MEDS]
        row += [str(change[i]), str(diabetes_med[i]), str(readmitted[i])]
        rows[int(slot[i])] = row
    return rows


def make_records_csv(n_rows: int = 5000, seed: int = 11) -> tuple[bytes, dict[str, int]]:
    """A ``diabetic_data.csv``-shaped file of ``n_rows`` data lines, and its injected fault counts."""
    rng = np.random.default_rng(seed)
    n_dup = _scaled(n_rows, 0.005)
    rows = _records_table(rng, n_rows - n_dup)
    pick = _Picker(rng, ["clean"] * len(rows))
    faults: dict[str, int] = {}

    def set_cells(kind: str, col: str, k: int, values: list[str], ok: Callable[[int], bool] | None = None) -> None:
        chosen = pick.take(k, ok=ok)
        for j, i in enumerate(chosen):
            rows[i][_COL[col]] = values[j % len(values)]
        faults[kind] = faults.get(kind, 0) + len(chosen)

    # missing_marker: "?" where the real file is always complete.
    m = _scaled(n_rows, 0.001)
    for col in ("age", "admission_type_id", "num_medications", "time_in_hospital"):
        set_cells("missing_marker", col, m, ["?"])
    # out_of_range: impossible counts and durations.
    set_cells("out_of_range", "time_in_hospital", m, ["0", "99"])
    set_cells("out_of_range", "num_lab_procedures", m, ["-4"])
    set_cells("out_of_range", "num_medications", max(1, m // 2), ["250"])
    # invalid_category: an age interval past 100 and the real file's invalid gender.
    set_cells("invalid_category", "age", m, ["[110-120)"])
    set_cells("invalid_category", "gender", m, ["Unknown/Invalid"])
    # stray_whitespace around category labels.
    race_ok = [rows[i][_COL["race"]] != "?" for i in range(len(rows))]
    spec_ok = [rows[i][_COL["medical_specialty"]] != "?" for i in range(len(rows))]
    chosen = pick.take(_scaled(n_rows, 0.0016), ok=lambda i: race_ok[i])
    for j, i in enumerate(chosen):
        v = rows[i][_COL["race"]]
        rows[i][_COL["race"]] = (" " + v, v + " ", " " + v + " ")[j % 3]
    faults["stray_whitespace"] = len(chosen)
    chosen = pick.take(_scaled(n_rows, 0.0016), ok=lambda i: spec_ok[i])
    for j, i in enumerate(chosen):
        v = rows[i][_COL["medical_specialty"]]
        rows[i][_COL["medical_specialty"]] = (v + " ", " " + v, v + "  ")[j % 3]
    faults["stray_whitespace"] += len(chosen)
    # non_numeric: typos and words in count columns.
    chosen = pick.take(_scaled(n_rows, 0.0008))
    for i in chosen:
        rows[i][_COL["num_lab_procedures"]] += "a"
    faults["non_numeric"] = len(chosen)
    small_t = [rows[i][_COL["time_in_hospital"]].isdigit() and int(rows[i][_COL["time_in_hospital"]]) <= 12 for i in range(len(rows))]
    chosen = pick.take(_scaled(n_rows, 0.0008), ok=lambda i: small_t[i])
    for i in chosen:
        rows[i][_COL["time_in_hospital"]] = _WORDS[int(rows[i][_COL["time_in_hospital"]])]
    faults["non_numeric"] += len(chosen)
    # ragged_line: one field too many.
    raw: dict[int, str] = {}
    for i in pick.take(1):
        raw[i] = ",".join(rows[i]) + ",?"
    faults["ragged_line"] = len(raw)
    # duplicate_row: exact copies written right after the original line.
    dups = pick.take(n_dup)
    faults["duplicate_row"] = len(dups)
    faults["direct_identifier_columns"] = 2
    return _render(RECORDS_COLUMNS, rows, raw, dups), faults


# --------------------------------------------------------------------------- transactions

_START = datetime(2010, 12, 1, 8, 26)
_END = datetime(2011, 12, 9, 12, 50)
_MONTH_W = {
    (2010, 12): 1.5, (2011, 1): 1.1, (2011, 2): 0.95, (2011, 3): 1.15, (2011, 4): 1.0, (2011, 5): 1.15,
    (2011, 6): 1.2, (2011, 7): 1.25, (2011, 8): 1.1, (2011, 9): 1.6, (2011, 10): 1.9, (2011, 11): 2.7,
    (2011, 12): 2.9,
}  # fmt: skip
_HOURS = [7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]
_HOUR_W = [0.001, 0.017, 0.063, 0.09, 0.106, 0.145, 0.133, 0.124, 0.143, 0.1, 0.053, 0.015, 0.007, 0.003]
# Named customers' countries. A third are abroad, in a few countries only, so that every country
# holds dozens of customers: a country with one or two customers would make their rows
# identifiable, and a generator trained on them would learn those customers, not the country.
_COUNTRIES = [
    ("United Kingdom", 0.67), ("Germany", 0.07), ("France", 0.07), ("EIRE", 0.05), ("Spain", 0.04),
    ("Netherlands", 0.03), ("Belgium", 0.03), ("Switzerland", 0.02), ("Portugal", 0.02),
]  # fmt: skip
_CATALOGUE_SIZE = 160
_EXPORT_RANGE = 24  # products that customers abroad favour, drawn from popularity ranks 10-99
_ANON_COUNTRIES = ["United Kingdom", "EIRE", "Hong Kong", "Unspecified", "Switzerland", "France"]
_ANON_COUNTRY_W = [0.95, 0.012, 0.01, 0.01, 0.01, 0.008]
_COLOURS = ["RED", "BLUE", "PINK", "GREEN", "IVORY", "CREAM", "BLACK", "WHITE", "PURPLE", "YELLOW", "ORANGE", "SILVER", "GOLD", "LILAC"]
_MOTIFS = [
    "POLKADOT", "FLORAL", "STAR", "HEART", "BIRD", "OWL", "ROSE", "STRIPE", "PAISLEY", "GINGHAM",
    "VINTAGE", "RETRO", "DAISY", "CHERRY", "LEMON", "ANCHOR", "BUNNY", "REINDEER", "SNOWFLAKE",
    "BUTTERFLY", "LACE", "TARTAN", "FAIRGROUND", "SEASIDE", "WOODLAND", "HONEYCOMB", "ZEBRA", "MOROCCAN",
]  # fmt: skip
# (item, price points it may sell at, pack sizes)
_ITEMS: list[tuple[str, list[float], list[int]]] = [
    ("MUG", [1.25, 1.65, 2.55], [6, 12]), ("TEA TOWEL", [0.85, 1.25, 2.95], [6, 12]),
    ("CANDLE HOLDER", [1.25, 2.95, 3.75], [4, 6, 12]), ("LANTERN", [3.75, 4.95, 7.95], [2, 4]),
    ("GIFT BAG LARGE", [0.42, 0.85], [12, 24]), ("CAKE TIN", [4.95, 5.95], [2, 3]),
    ("NOTEBOOK", [0.85, 1.65], [12, 24]), ("CUSHION COVER", [3.75, 4.25], [4]),
    ("DOORMAT", [7.95, 8.5], [2, 10]), ("PHOTO FRAME", [2.55, 2.95, 3.75], [4, 6]),
    ("JAM JAR", [0.85, 1.65], [12]), ("PEG BAG", [2.55], [6]), ("LUNCH BOX", [1.95, 2.46], [6, 12]),
    ("WATER BOTTLE", [3.75, 4.25], [4, 6]), ("BUNTING", [1.65, 2.95], [6, 12]),
    ("PAPER CUPS", [0.65, 0.85], [12, 24]), ("NAPKINS", [0.85], [12, 24]), ("WALL CLOCK", [3.75, 8.5], [2]),
    ("STORAGE TIN", [2.95, 4.95], [4, 6]), ("TRINKET BOX", [1.25, 2.1], [6, 12]),
    ("KEY RING", [0.42, 0.85], [12, 24]), ("SHOPPING BAG", [1.65, 2.08], [10, 100]),
    ("APRON", [4.95, 5.95], [3]), ("COAT HANGER", [0.65, 1.25], [12, 24]), ("PURSE", [2.1, 2.55], [6]),
    ("HOT WATER BOTTLE", [4.25, 4.95], [4]), ("PARTY BAG", [0.39, 0.55], [12]),
    ("TEAPOT", [4.95, 6.75], [2]), ("SERVING BOWL", [3.75, 5.95], [2, 4]), ("PLATE", [1.25, 1.65], [8, 12]),
    ("CHILDRENS CUTLERY SET", [4.15, 4.25], [4]), ("HANGING ORNAMENT", [0.42, 0.65, 0.85], [12, 24]),
    ("WRAPPING PAPER", [0.42], [25]), ("GREETING CARD", [0.42], [12]), ("STICKER SHEET", [0.29, 0.39], [12]),
    ("PENCIL CASE", [0.65, 0.85], [12]), ("BIRD FEEDER", [2.95, 3.75], [4]), ("PLANT POT", [1.25, 2.95], [6, 12]),
    ("WASHBAG", [2.1, 2.55], [6]), ("FRIDGE MAGNET", [0.42, 0.85], [12]),
]  # fmt: skip
# Products named by hand: non-ASCII (mojibake targets), commas and quotes (CSV quoting).
_FIXED_PRODUCTS = [
    ("23520", "CAFÉ AU LAIT MUG", 1.65, 6), ("23521", "CHILDREN’S GARDEN GLOVES", 1.25, 12),
    ("23522", "CRÈME BRÛLÉE DISH", 2.1, 6), ("23523", "NOËL FELT STOCKING", 2.95, 6),
    ("21874", "TRAY, SERVING ROSE", 3.75, 4), ("21875", 'PHOTO FRAME 5" X 7" IVORY', 2.55, 6),
    ("21876", "SET OF 4  COASTERS STAR", 1.25, 12), ("21877", "BISCUIT TIN, VINTAGE", 4.95, 4),
]  # fmt: skip
_ADJUST_NOTES = [
    "", "", "", "", "", "damaged", "?", "lost in transit", "check", "thrown away", "wet damaged",
    "smashed", "missing", "damages?", "sold as set on web", "??", "Damaged", "stock check",
]  # fmt: skip
_FOUND_NOTES = ["found", "", "Found", "had been put aside", "?"]


@dataclass
class _Product:
    code: str
    name: str
    price: float
    pack: int


@dataclass
class _Line:
    code: str
    desc: str
    qty: int
    price: float
    kind: str = "clean"  # clean | special | cancel | adjust | absurd


@dataclass
class _Invoice:
    when: datetime
    customer: str
    country: str
    cancel: bool = False
    lines: list[_Line] = field(default_factory=list)


def _catalogue(rng: np.random.Generator, size: int = _CATALOGUE_SIZE) -> list[_Product]:
    """Invented products in the real file's style; shuffled popularity order."""
    products: list[_Product] = []
    seen: set[str] = set()
    used_codes: set[int] = {int(c) for c, *_ in _FIXED_PRODUCTS}
    while len(products) < size - len(_FIXED_PRODUCTS):
        item, prices, packs = _ITEMS[int(rng.integers(len(_ITEMS)))]
        motif = _MOTIFS[int(rng.integers(len(_MOTIFS)))]
        style = int(rng.integers(4))
        n_var = int(rng.choice([1, 1, 1, 2, 3, 4]))
        colours = [_COLOURS[int(c)] for c in rng.choice(len(_COLOURS), size=n_var, replace=False)]
        base = int(rng.integers(10002, 90000))
        if base in used_codes:
            continue
        price = float(prices[int(rng.integers(len(prices)))])
        pack = int(packs[int(rng.integers(len(packs)))])
        for v, colour in enumerate(colours):
            if style == 0:
                name = f"{colour} {motif} {item}"
            elif style == 1:
                name = f"{motif} {item} {colour}"
            elif style == 2:
                name = f"SET OF 3 {motif} {item}S" if n_var == 1 else f"{colour} {motif} {item} SET"
            else:
                name = f"{motif} DESIGN {item}" if n_var == 1 else f"{motif} {item} {colour}"
            if len(name) > 35 or name in seen:
                continue
            code = str(base) if n_var == 1 else f"{base}{'ABCDEFGH'[v]}"
            seen.add(name)
            products.append(_Product(code, name, price, pack))
        used_codes.add(base)
    products = products[: size - len(_FIXED_PRODUCTS)]
    order = rng.permutation(len(products))
    products = [products[i] for i in order]
    # Hand-named products sit at mid popularity so they occur often enough.
    for j, (code, name, price, pack) in enumerate(_FIXED_PRODUCTS):
        products.insert(12 + 9 * j, _Product(code, name, price, pack))
    return products


def _mojibake(text: str) -> str:
    return text.encode("utf-8").decode("cp1252", errors="replace")


def _fmt_price(p: float) -> str:
    return repr(float(p))


def _fmt_date(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S")


def _within_period(when: datetime) -> datetime:
    """``when`` moved by whole weeks into [_START, _END], weekday and time of day kept.

    Clamping to the period's ends instead made the last minute (12:50 on 9 December) an invoice
    time shared by several customers, a point the generator learned and copied exactly: the real
    data has no such pile-up.
    """
    while when > _END:
        when -= timedelta(days=7)
    while when < _START:
        when += timedelta(days=7)
    return when


def _between(start: datetime, end: datetime) -> datetime:
    """The whole minute halfway from ``start`` to ``end``: a follow-up invoice that would fall after
    the period's end. No draw, so the rest of the data stays as it was."""
    return start + timedelta(minutes=int((end - start).total_seconds() // 120))


def _invoice_times(rng: np.random.Generator, n: int) -> list[datetime]:
    """``n`` sorted invoice times: autumn peak, Christmas break, no Saturdays, office hours."""
    days: list[date] = []
    weights: list[float] = []
    d = _START.date()
    while d <= _END.date():
        w = _MONTH_W[(d.year, d.month)]
        wd = d.weekday()
        if wd == 5 or date(2010, 12, 23) <= d <= date(2011, 1, 3):
            w = 0.0
        elif wd == 6:
            w *= 0.65
        elif wd == 4:
            w *= 0.85
        days.append(d)
        weights.append(w)
        d += timedelta(days=1)
    day_idx = _draw_idx(rng, weights, n)
    hours = _draw(rng, _HOURS, _HOUR_W, n)
    minutes = rng.integers(0, 60, n)
    out = []
    for i in range(n):
        when = datetime.combine(days[int(day_idx[i])], datetime.min.time()) + timedelta(hours=hours[i], minutes=int(minutes[i]))
        out.append(_within_period(when))
    return sorted(out)


def _transactions_table(rng: np.random.Generator, n_rows: int, counts: dict[str, int]) -> tuple[list[list[str]], list[str]]:
    """Rows (strings) in file order plus each line's kind, before cell-level faults."""
    catalogue = _catalogue(rng)
    pop = 1.0 / np.arange(1, len(catalogue) + 1) ** 0.95
    pop /= pop.sum()
    # What makes "sold abroad" learnable (the demo's utility target): customers abroad buy from an
    # export range of mid-popularity products, mostly as wholesalers (pack multiples, bulk price),
    # and pay postage. A generator that learns product x quantity x price x country predicts it;
    # the baseline, which draws each column on its own, cannot.
    export = np.zeros(len(catalogue), dtype=bool)
    export[rng.choice(np.arange(10, 100), size=_EXPORT_RANGE, replace=False)] = True
    pop_abroad = pop * np.where(export, 12.0, 0.2)
    pop_abroad /= pop_abroad.sum()
    pop_home = pop * np.where(export, 0.15, 1.0)
    pop_home /= pop_home.sum()

    # Many customers with a few invoices each, so every split holds dozens of customers abroad.
    n_cust = max(40, n_rows // 8)
    cust_ids = rng.choice(np.arange(12346, 18288), size=n_cust, replace=False)
    cust_country = _draw(rng, [c for c, _ in _COUNTRIES], [w for _, w in _COUNTRIES], n_cust)
    abroad = np.asarray(cust_country) != "United Kingdom"
    cust_activity = (rng.pareto(4.0, n_cust) + 1.0) * np.where(abroad, 0.8, 1.0)
    cust_activity /= cust_activity.sum()
    cust_wholesale = rng.random(n_cust) < np.where(abroad, 0.8, 0.15)

    n_cancel = counts["cancellation_line"]
    n_adjust = counts["stock_adjustment"]
    n_absurd = counts["absurd_quantity"]
    n_discount = max(1, n_rows // 3000)
    # Cancellation lines include the Discount lines and the absurd orders' cancellations.
    target = n_rows - counts["duplicate_row"] - n_cancel - n_adjust - n_absurd

    # Sale invoices: line counts until the target is met exactly.
    sizes: list[int] = []
    anon: list[bool] = []
    total = 0
    while total < target:
        is_anon = bool(rng.random() < 0.21)
        if is_anon:
            k = 1 if rng.random() < 0.5 else int(np.clip(rng.lognormal(2.5, 0.8), 2, 120))
        else:
            k = int(np.clip(rng.lognormal(1.7, 0.7), 1, 120))
        k = min(k, target - total)
        sizes.append(k)
        anon.append(is_anon)
        total += k
    times = _invoice_times(rng, len(sizes))
    invoices: list[_Invoice] = []
    for k, is_anon, when in zip(sizes, anon, times, strict=True):
        if is_anon:
            customer, country, wholesale = "", _draw(rng, _ANON_COUNTRIES, _ANON_COUNTRY_W, 1)[0], False
        else:
            c = int(rng.choice(n_cust, p=cust_activity))
            customer, country, wholesale = str(int(cust_ids[c])), cust_country[c], bool(cust_wholesale[c])
        inv = _Invoice(when, customer, country)
        picks = rng.choice(len(catalogue), size=k, replace=False, p=pop_home if country == "United Kingdom" else pop_abroad)
        for j in picks:
            prod = catalogue[int(j)]
            if is_anon:
                qty = int(rng.choice([1, 1, 1, 1, 2, 2, 3, 4, 6]))
                price = round(prod.price * 1.2 + 0.01, 2)
            else:
                mult = int(rng.geometric(0.7 if not wholesale else 0.45))
                if rng.random() < 0.02:
                    mult *= int(rng.choice([4, 10, 25]))
                if rng.random() < 0.5:
                    qty = prod.pack * mult
                else:
                    qty = int(rng.choice([1, 2, 3, 4, 6], p=[0.4, 0.25, 0.12, 0.13, 0.1])) * mult
                price = round(prod.price * 0.85, 2) if qty >= 4 * prod.pack else prod.price
            inv.lines.append(_Line(prod.code, prod.name, qty, price))
        # Service codes replace the last product slot now and then.
        r = rng.random()
        if not is_anon and country != "United Kingdom" and r < 0.5:
            fee = 18.0 if country in ("Germany", "France", "Belgium", "Netherlands", "Spain", "Portugal", "Italy") else 40.0
            inv.lines[-1] = _Line("POST", "POSTAGE", int(rng.integers(1, 5)), fee, "special")
        elif not is_anon and country in ("EIRE", "Channel Islands") and r < 0.8:
            inv.lines[-1] = _Line("C2", "CARRIAGE", 1, 50.0, "special")
        elif is_anon and k >= 10 and r < 0.4:
            inv.lines[-1] = _Line("DOT", "DOTCOM POSTAGE", 1, round(float(rng.uniform(20, 400)), 2), "special")
        elif r > 0.99:
            inv.lines[-1] = _Line("M", "Manual", 1, float(rng.choice([0.85, 2.55, 4.95, 12.75])), "special")
        elif r > 0.985 and not is_anon:
            inv.lines[-1] = _Line("BANK CHARGES", "Bank Charges", 1, 15.0, "special")
        elif 0.5 < r < 0.503 and not is_anon:
            inv.lines[-1] = _Line("PADS", "PADS TO MATCH ALL CUSHIONS", 1, 0.001, "special")
        invoices.append(inv)

    extra: list[_Invoice] = []
    # Cancellations of earlier lines by the same customer (4% anonymous, like the real file).
    named = [i for i, inv in enumerate(invoices) if inv.customer and any(ln.kind == "clean" for ln in inv.lines)]
    anonymous = [i for i, inv in enumerate(invoices) if not inv.customer and any(ln.kind == "clean" for ln in inv.lines)]
    left = n_cancel - n_absurd - n_discount
    while left > 0:
        pool = anonymous if (anonymous and rng.random() < 0.04) else named
        src = invoices[int(pool[int(rng.integers(len(pool)))])]
        clean = [ln for ln in src.lines if ln.kind == "clean"]
        k = min(left, len(clean), int(rng.choice([1, 1, 1, 2, 2, 3])))
        later = src.when + timedelta(minutes=int(rng.integers(5, 90)))
        days = int(rng.integers(0, 21))
        if days:
            day = src.when.date() + timedelta(days=days + int((src.when.weekday() + days) % 7 == 5))
            later = datetime.combine(day, datetime.min.time()) + timedelta(hours=_draw(rng, _HOURS, _HOUR_W, 1)[0], minutes=int(rng.integers(0, 60)))
        if later > _END:
            later = _between(src.when, _END)
        inv = _Invoice(later, src.customer, src.country, cancel=True)
        for j in rng.choice(len(clean), size=k, replace=False):
            ln = clean[int(j)]
            qty = ln.qty if ln.qty == 1 or rng.random() < 0.8 else int(rng.integers(1, ln.qty))
            inv.lines.append(_Line(ln.code, ln.desc, -qty, ln.price, "cancel"))
        extra.append(inv)
        left -= k
    for _ in range(n_discount):
        src = invoices[int(named[int(rng.integers(len(named)))])]
        when = src.when + timedelta(minutes=int(rng.integers(30, 600)))
        inv = _Invoice(when if when <= _END else _between(src.when, _END), src.customer, src.country, cancel=True)
        inv.lines.append(_Line("D", "Discount", -1, round(float(rng.uniform(5, 60)), 2), "cancel-special"))
        extra.append(inv)
    # Stock adjustments: single-line, no customer, price 0, note or nothing as description.
    adj_times = _invoice_times(rng, n_adjust)
    for when in adj_times:
        prod = catalogue[int(rng.choice(len(catalogue), p=pop))]
        if rng.random() < 0.8:
            note = _ADJUST_NOTES[int(rng.integers(len(_ADJUST_NOTES)))]
            qty = -int(np.clip(rng.lognormal(2.5, 1.3), 1, 3000))
        else:
            note = _FOUND_NOTES[int(rng.integers(len(_FOUND_NOTES)))]
            qty = int(np.clip(rng.lognormal(2.5, 1.1), 1, 1000))
        inv = _Invoice(when, "", "United Kingdom")
        inv.lines.append(_Line(prod.code, note, qty, 0.0, "adjust"))
        extra.append(inv)
    # Absurd order and its cancellation a few minutes later.
    for when in _invoice_times(rng, n_absurd):
        c = int(rng.integers(n_cust))
        prod = catalogue[int(rng.integers(len(catalogue)))]
        qty = int(rng.integers(50_000, 90_000))
        cheap = round(prod.price * 0.5, 2)
        inv = _Invoice(when, str(int(cust_ids[c])), cust_country[c])
        inv.lines.append(_Line(prod.code, prod.name, qty, cheap, "absurd"))
        later = when + timedelta(minutes=int(rng.integers(5, 30)))
        undo = _Invoice(later if later <= _END else _between(when, _END), inv.customer, inv.country, cancel=True)
        undo.lines.append(_Line(prod.code, prod.name, -qty, cheap, "cancel-absurd"))
        extra += [inv, undo]

    every = invoices + extra
    order = sorted(range(len(every)), key=lambda i: (every[i].when, i))
    rows: list[list[str]] = []
    kinds: list[str] = []
    number = 536365
    for i in order:
        inv = every[i]
        inv_no = f"C{number}" if inv.cancel else str(number)
        number += 1 + int(rng.random() < 0.1)
        for ln in inv.lines:
            rows.append([inv_no, ln.code, ln.desc, str(ln.qty), _fmt_date(inv.when), _fmt_price(ln.price), inv.customer, inv.country])
            kinds.append(ln.kind)
    return rows, kinds


def _us_date(text: str) -> str:
    when = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    return f"{when.month}/{when.day}/{when.year} {when.hour}:{when.minute:02d}"


def make_transactions_csv(n_rows: int = 12000, seed: int = 12) -> tuple[bytes, dict[str, int]]:
    """An ``online_retail.csv``-shaped file of ``n_rows`` data lines, and its injected fault counts."""
    rng = np.random.default_rng(seed)
    plan = {
        "duplicate_row": _scaled(n_rows, 0.004),
        "cancellation_line": _scaled(n_rows, 0.012, 4),
        "stock_adjustment": _scaled(n_rows, 0.0025),
        "absurd_quantity": max(1, n_rows // 10000),
    }
    rows, kinds = _transactions_table(rng, n_rows, plan)
    pick = _Picker(rng, kinds)
    faults: dict[str, int] = {}
    m = _scaled(n_rows, 0.00025)

    def col_set(
        kind: str,
        col: str,
        k: int,
        make: Callable[[int, str], str],
        kinds_ok: tuple[str, ...] = ("clean",),
        ok: Callable[[int], bool] | None = None,
    ) -> None:
        chosen = pick.take(k, kinds_ok, ok)
        for j, i in enumerate(chosen):
            rows[i][_T[col]] = make(j, rows[i][_T[col]])
        faults[kind] = faults.get(kind, 0) + len(chosen)

    def named(i: int) -> bool:
        return rows[i][_T["CustomerID"]] != ""

    # missing_marker: empty fields where values belong, and other exporters' null strings.
    col_set("missing_marker", "UnitPrice", m, lambda j, v: "")
    col_set("missing_marker", "Quantity", m, lambda j, v: "")
    col_set("missing_marker", "Description", m, lambda j, v: "")
    col_set("missing_marker", "Country", m, lambda j, v: "")
    col_set("missing_marker", "CustomerID", 2 * m, lambda j, v: ("NULL", "nan")[j % 2], ok=named)
    col_set("missing_marker", "Description", m, lambda j, v: ("NULL", "nan")[j % 2])
    col_set("missing_marker", "Country", m, lambda j, v: "nan")
    # out_of_range: negative price, zero quantity.
    col_set("out_of_range", "UnitPrice", m, lambda j, v: "-" + v)
    col_set("out_of_range", "Quantity", m, lambda j, v: "0")
    # non_numeric: typos, words, decimal comma.
    col_set("non_numeric", "Quantity", m, lambda j, v: (v + "a", "two")[j % 2])
    col_set("non_numeric", "UnitPrice", m, lambda j, v: (v.replace(".", ","), v.replace("0", "O") + "O")[j % 2])
    # Dates written by other systems on single lines.
    col_set("date_format_us", "InvoiceDate", 3 * m, lambda j, v: _us_date(v))
    col_set("date_format_iso_t", "InvoiceDate", 2 * m, lambda j, v: v.replace(" ", "T"))
    col_set("date_unparseable", "InvoiceDate", m, lambda j, v: ("31/02/2011 10:00", "n/a", "2011-02-30 10:00:00")[j % 3])
    # stray_whitespace.
    col_set("stray_whitespace", "Description", 3 * m, lambda j, v: (" " + v, v + " ", "  " + v + " ")[j % 3])
    col_set("stray_whitespace", "Country", 2 * m, lambda j, v: (v + " ", " " + v)[j % 2])
    # mojibake: non-ASCII product names decoded as cp1252, and one anonymous invoice's Country.
    col_set("mojibake", "Description", 3 * m, lambda j, v: _mojibake(v), ok=lambda i: not rows[i][_T["Description"]].isascii())
    anon_singles = [
        i for i in range(len(rows))
        if kinds[i] == "clean" and not pick.used[i] and not named(i)
        and (i == 0 or rows[i - 1][0] != rows[i][0]) and (i + 1 == len(rows) or rows[i + 1][0] != rows[i][0])
    ]  # fmt: skip
    if anon_singles:
        i = anon_singles[int(rng.integers(len(anon_singles)))]
        pick.used[i] = True
        rows[i][_T["Country"]] = _mojibake("Côte d'Ivoire")
        faults["mojibake"] = faults.get("mojibake", 0) + 1
    # Cancellations with the wrong sign.
    faults["cancellation_line"] = sum(1 for kd in kinds if kd.startswith("cancel"))
    col_set("cancellation_positive_quantity", "Quantity", max(1, m), lambda j, v: v.lstrip("-"), ("cancel",))
    faults["stock_adjustment"] = sum(1 for kd in kinds if kd == "adjust")
    faults["absurd_quantity"] = sum(1 for kd in kinds if kd == "absurd")
    faults["non_product_stockcode"] = sum(1 for kd in kinds if kd in ("special", "cancel-special"))
    # ragged_line: an unquoted comma (one field too many) twice, a dropped field once.
    raw: dict[int, str] = {}
    for j, i in enumerate(pick.take(3, ok=lambda i: "," not in rows[i][_T["Description"]] and '"' not in rows[i][_T["Description"]])):
        row = list(rows[i])
        if j < 2:
            row[_T["Description"]] = row[_T["Description"]].replace(" ", ", ", 1)
        else:
            del row[_T["CustomerID"]]
        raw[i] = ",".join(row)
    faults["ragged_line"] = len(raw)
    # invalid_utf8: one Description written in cp1252 (bare 0xC9 / 0x92 bytes, or 0xE9 for "é").
    chosen = pick.take(1, ok=lambda i: not rows[i][_T["Description"]].isascii()) or pick.take(1)
    for i in chosen:
        desc = rows[i][_T["Description"]]
        if desc.isascii():
            desc = desc.replace(" ", " CAF\u00e9 ", 1)
        rows[i][_T["Description"]] = "".join(ch if ch.isascii() else chr(0xDC00 + ch.encode("cp1252")[0]) for ch in desc)
    faults["invalid_utf8"] = len(chosen)
    dups = pick.take(plan["duplicate_row"])
    faults["duplicate_row"] = len(dups)
    faults["direct_identifier_columns"] = 1
    return _render(TRANSACTIONS_COLUMNS, rows, raw, dups), faults
