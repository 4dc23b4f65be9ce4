"""Where each artifact of a domain lives, in one place.

The CLI's defaults, the report's loaders and the lineage record read their paths from
:class:`Layout`; ``dvc.yaml`` spells the same paths out for DVC, and ``tests/test_layout.py``
checks that every path here is one that ``dvc.yaml`` declares. Roots are fields so that a test or
a scratch copy can point the whole layout somewhere else (``Layout(reports=tmp / "reports")``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SPLIT_NAMES: tuple[str, ...] = ("train", "dev", "test")
TRAINING_PRIVACY_FILE = "privacy.json"  # beside DVCLive's summary in the training folder


DISTRIBUTIONS_FILE = "distributions.json"


@dataclass(frozen=True)
class Layout:
    """The pipeline's folders, relative to the repository root unless given otherwise."""

    data: Path = Path("data")
    models: Path = Path("models")
    reports: Path = Path("reports")
    expectations: Path = Path("expectations")

    # data/ (raw data lives where each domain's ``raw_dir`` in params.yaml says)
    def interim(self, domain: str) -> Path:
        return self.data / "interim" / f"{domain}.parquet"

    def ingest_schema(self, domain: str) -> Path:
        """What ingest reads of the domain's columns (names, identifiers), apart from the cleaning rules."""
        return self.data / "interim" / f"{domain}.schema.json"

    def clean(self, domain: str) -> Path:
        return self.data / "clean" / f"{domain}.parquet"

    def quarantine(self, domain: str) -> Path:
        return self.data / "quarantine" / f"{domain}.parquet"

    def restricted_quarantine(self, domain: str) -> Path:
        """Broken lines in full, identifiers unmasked: stored apart, never rendered (README, "Quarantine")."""
        return self.data / "quarantine" / f"{domain}.restricted.parquet"

    def splits(self, domain: str) -> Path:
        return self.data / "splits" / domain

    def split(self, domain: str, name: str) -> Path:
        return self.splits(domain) / f"{name}.parquet"

    def synthetic(self, domain: str) -> Path:
        return self.data / "synthetic" / f"{domain}.parquet"

    # expectations/
    def suite(self, domain: str) -> Path:
        return self.expectations / f"{domain}.json"

    def draft_suite(self, domain: str) -> Path:
        return self.expectations / f"{domain}.draft.json"

    # models/
    def model(self, domain: str) -> Path:
        return self.models / domain

    def checkpoints(self, domain: str) -> Path:
        return self.models / ".checkpoints" / domain

    # reports/
    def ingest_report(self, domain: str) -> Path:
        return self.reports / "ingest" / f"{domain}.json"

    def clean_report(self, domain: str) -> Path:
        return self.reports / "clean" / f"{domain}.json"

    def validation_report(self, domain: str) -> Path:
        return self.reports / "validation" / f"{domain}.json"

    def data_docs(self, domain: str) -> Path:
        return self.reports / "validation" / "docs" / domain

    def data_docs_assets(self) -> Path:
        """The Data Docs' vendored assets, one copy every domain's pages share."""
        return self.reports / "validation" / "docs" / "static"

    def split_report(self, domain: str) -> Path:
        return self.reports / "split" / f"{domain}.json"

    def training_live(self, domain: str) -> Path:
        return self.reports / "train" / domain

    def training_privacy(self, domain: str) -> Path:
        """The privacy checks of training, epoch by epoch, and which checkpoint they let train keep."""
        return self.training_live(domain) / TRAINING_PRIVACY_FILE

    def synthesize_report(self, domain: str) -> Path:
        return self.reports / "synthesize" / f"{domain}.json"

    def utility_report(self, domain: str) -> Path:
        return self.reports / "utility" / f"{domain}.json"

    def utility_plots(self, domain: str) -> Path:
        return self.reports / "utility" / domain

    def utility_distributions(self, domain: str) -> Path:
        """Each column's distribution per source and the association map (evaluate writes it into its plots folder)."""
        return self.utility_plots(domain) / DISTRIBUTIONS_FILE

    def lineage_record(self, domain: str) -> Path:
        return self.reports / "lineage" / f"{domain}.json"

    def index_page(self) -> Path:
        return self.reports / "index.html"


LAYOUT = Layout()
