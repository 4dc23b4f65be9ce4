"""Progress bars and steward-readable logging, both on stderr so stdout stays for data.

On a terminal, log lines go through rich and long steps show a progress bar. Anywhere else
(``dvc repro``, CI, a pipe into a file) every log record is one plain line, never wrapped at the
80 columns rich assumes when there is no terminal, and no bar is drawn: a bar redrawn into a
log file is noise. ``--quiet`` keeps warnings and errors only, ``--verbose`` adds Assay's debug
lines and the libraries' info messages, and ``--log-file`` copies every line, with its time,
level and logger, to a file (``assay --help``).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

T = TypeVar("T")
console = Console(stderr=True)

PLAIN_FORMAT = "%(levelname)-8s %(message)s"  # the columns RichHandler shows, on one line
FILE_FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"
# Tables and trees printed for a reader (``assay check``, ``assay trace``) when stdout is not a
# terminal: rich would otherwise squeeze them into 80 columns and cut names short.
WIDE = 1000


class _Stderr(logging.StreamHandler):
    """A handler writing to whatever ``sys.stderr`` is when a line is logged, as rich's console does
    (test runners swap it, and a handler holding the old one would write to a closed stream)."""

    @property  # type: ignore[override]
    def stream(self):  # noqa: ANN201
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # noqa: ANN001
        pass


@dataclass
class LogSettings:
    verbose: bool = False
    quiet: bool = False
    log_file: Path | None = None


settings = LogSettings()


def setup_logging(verbose: bool = False, quiet: bool = False, log_file: Path | None = None) -> None:
    """Log lines like ``clean transactions: 12 rows quarantined``, without tracebacks.

    ``verbose``: Assay's debug lines and the libraries' info messages; ``quiet``: warnings and
    errors only, and no progress bars; ``log_file``: every line, with time, level and logger, is
    also appended to that file (at debug level, whatever the console shows).
    """
    settings.verbose, settings.quiet, settings.log_file = verbose, quiet, log_file
    if console.is_terminal:
        from rich.logging import RichHandler

        screen: logging.Handler = RichHandler(console=console, show_path=False, show_time=False, markup=False, rich_tracebacks=False)
    else:
        screen = _Stderr()
        screen.setFormatter(logging.Formatter(PLAIN_FORMAT))
    screen.setLevel(logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO)
    handlers: list[logging.Handler] = [screen]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        to_file = logging.FileHandler(log_file, encoding="utf-8")
        to_file.setFormatter(logging.Formatter(FILE_FORMAT))
        handlers.append(to_file)
    # Libraries (GX, transformers, dvc) speak only when something is wrong, unless asked; Assay says what it did.
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s", handlers=handlers, force=True)
    logging.getLogger("assay").setLevel(logging.DEBUG if verbose or log_file is not None else logging.INFO)


def quiet_library_logger(name: str) -> None:
    """Keep a library logger that sets its own level (GX sets one to INFO on import) to warnings, unless --verbose."""
    if not settings.verbose:
        logging.getLogger(name).setLevel(logging.WARNING)


def show_progress() -> bool:
    """Whether to draw progress bars: on a terminal, unless ``--quiet``."""
    return console.is_terminal and not settings.quiet


def output_console() -> Console:
    """A console for what a command prints on stdout: the terminal's width, or wide enough not to cut text in a pipe or file."""
    return Console() if sys.stdout.isatty() else Console(width=WIDE)


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not show_progress(),
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


@contextmanager
def bar(description: str, total: int) -> Iterator[Callable[..., None]]:
    """A bar advanced by hand: the yielded function takes the units done since the last call and,
    where the end moves (a minutes budget's clock), the new total."""
    with _progress() as progress:
        task = progress.add_task(description, total=total)
        yield lambda units, total=None: progress.update(task, advance=units, total=total)
