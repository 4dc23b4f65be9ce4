"""Progress bars and steward-readable logging, both on stderr so stdout stays for data."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

T = TypeVar("T")
console = Console(stderr=True)


def setup_logging(verbose: bool = False) -> None:
    """Log lines like ``clean transactions: 12 rows quarantined``, without tracebacks."""
    from rich.logging import RichHandler

    handler = RichHandler(console=console, show_path=False, show_time=False, markup=False, rich_tracebacks=False)
    # Libraries (GX, transformers, dvc) speak only when something is wrong; Assay says what it did.
    logging.basicConfig(level=logging.WARNING, format="%(message)s", handlers=[handler], force=True)
    logging.getLogger("assay").setLevel(logging.DEBUG if verbose else logging.INFO)


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


@contextmanager
def steps(description: str, total: int) -> Iterator[Callable[[str], None]]:
    """A bar over a fixed number of named steps; call the yielded function after each one."""
    with _progress() as progress:
        task = progress.add_task(description, total=total)

        def done(label: str) -> None:
            progress.update(task, advance=1, description=f"{description}: {label}")

        yield done


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate with a progress bar that names the work being done."""
    with _progress() as progress:
        yield from progress.track(items, total=total, description=description)
