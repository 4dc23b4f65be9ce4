"""Offline Great Expectations Data Docs: GX's own renderers, with nothing loaded from the network.

:func:`write_data_docs` renders two pages with GX 1.24's renderers and its Jinja page view:
``index.html`` (``ValidationResultsPageRenderer``: the validation result) and ``suite.html``
(``ExpectationSuitePageRenderer``: the suite). GX's stock pages load Bootstrap, jQuery,
bootstrap-table, Font Awesome and Vega from CDNs and a logo from S3; here a few of GX's templates
are overridden (``assay/quality/templates/``: page head, script imports, navbar) so that every
asset comes from one ``static/`` folder that every domain's pages share (``reports/validation/docs/static``,
beside the domains' folders; the ``docs_assets`` stage writes it with :func:`write_assets`),
copied from ``assay/quality/assets/`` (versions, licences and the two small edits to upstream
files are in its README). One copy for all domains, instead of 1.6 MB of the same files per
domain. The remote logo becomes a text title; GX's newsletter footer, favicon and
walkthrough-modal script are gone; GX's dark-mode CSS overrides are dropped because the dark
Bootstrap build they assume is not vendored. Only pages that draw a chart load Vega. After
rendering, :func:`remote_references` must find nothing, or the write fails.

Escaping: GX's Jinja environment does not autoescape ``.j2`` templates. GX escapes the
parameters of its string templates, but bare strings in content blocks, such as the cells of
the "Unexpected Value" table, reach the page raw, so a data value ``<script>...`` would run.
:class:`_OfflinePageView` escapes exactly those bare values (GX's renderers never put markup in
a bare string); everything GX already escapes is left alone.

Severity and notes: every expectation's notes (GX's own ``notes`` field) are shown on both pages,
led by its severity (GX's own ``severity`` field, which GX does not display); the validation page's
status is the gate's verdict (:mod:`assay.quality.validate` sets the result's ``success`` to it)
with the count of failed expectations by severity beside it.

Determinism: GX names collapsible blocks with random UUIDs; here they are numbered in page order,
so the same result and suite give the same bytes (the result's own ``meta``, such as run times,
is shown as given). The folder is written next to ``out_dir`` and swapped in at the end: readers
never see half a folder, and files from an earlier run (a chart library no longer needed) go.
"""

from __future__ import annotations

import html
import itertools
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

log = logging.getLogger("assay.datadocs")

ASSETS = Path(__file__).parent / "assets"
TEMPLATES = Path(__file__).parent / "templates"
STATIC = "static"
# Files every page loads, and those only pages with a Vega chart load (paths under ASSETS).
BASE_ASSETS = (
    "css/bootstrap.min.css",
    "css/bootstrap-table.min.css",
    "css/fontawesome.min.css",
    "css/solid.min.css",
    "webfonts/fa-solid-900.woff2",
    "js/jquery.min.js",
    "js/popper.min.js",
    "js/bootstrap.min.js",
    "js/bootstrap-table.min.js",
)
CHART_ASSETS = ("js/vega.min.js", "js/vega-lite.min.js", "js/vega-embed.min.js")
PAGES = (("index.html", "Validation results"), ("suite.html", "Expectation suite"))

_LOCAL_SCHEMES = ("data:", "file:", "about:", "blob:", "#")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_LOADING_TAG = re.compile(r"<(?:script|link|img|iframe|source|embed|object|video|audio|track|input)\b[^>]*>", re.IGNORECASE)
_URL_ATTR = re.compile(r"""\b(?:src|href|data|poster|srcset)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*("[^"]*"|'[^']*'|[^)]*)\s*\)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""@import\s+("[^"]*"|'[^']*'|url\([^)]*\))""", re.IGNORECASE)


def is_remote(url: str) -> bool:
    """True for a URL a browser would fetch from the network (``https://``, ``//host``, ``ftp:``...)."""
    url = html.unescape(url.strip().strip("\"'")).strip()
    if url.startswith("//"):
        return True
    return bool(_SCHEME.match(url)) and not url.lower().startswith(_LOCAL_SCHEMES)


def remote_references(text: str) -> list[str]:
    """Every remote URL that HTML or CSS ``text`` would load: loading tags' ``src``/``href``, ``url()``, ``@import``."""
    found = []
    for tag in _LOADING_TAG.finditer(text):
        found += [m.group(1) for m in _URL_ATTR.finditer(tag.group(0)) if is_remote(m.group(1))]
    for match in _CSS_URL.finditer(text):
        if is_remote(match.group(1)):
            found.append(match.group(1))
    for match in _CSS_IMPORT.finditer(text):
        target = match.group(1)
        target = target[4:-1] if target.lower().startswith("url(") else target
        if is_remote(target):
            found.append(target)
    return [value.strip("\"'") for value in found]


def _drop_css_block(css: str, opener: str) -> str:
    """Remove the brace-delimited block that starts at ``opener`` (e.g. an ``@media`` rule)."""
    start = css.find(opener)
    if start < 0:
        return css
    depth = 0
    for index in range(css.index("{", start), len(css)):
        depth += {"{": 1, "}": -1}.get(css[index], 0)
        if depth == 0:
            return css[:start] + css[index + 1 :]
    raise ValueError(f"unbalanced braces after {opener!r} in GX's Data Docs CSS")


def _gx_default_styles() -> str:
    """GX's default Data Docs CSS without its remote logo and its dark-mode overrides."""
    css = resources.files("great_expectations").joinpath("render/view/static/styles/data_docs_default_styles.css").read_text(encoding="utf-8")
    css = re.sub(r"background:\s*url\([^)]*\)[^;]*;", "", css)
    return _drop_css_block(css, "@media (prefers-color-scheme: dark)")


def _view_class() -> type:
    """Build the page view on first use: importing GX costs about 2 s and turns analytics on unless told."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    from great_expectations.render.view import DefaultJinjaPageView
    from jinja2 import ChoiceLoader, DictLoader, FileSystemLoader, pass_context

    class _OfflinePageView(DefaultJinjaPageView):
        """GX's page view with Assay's template overrides first, bare values escaped, stable ids."""

        def __init__(self) -> None:
            super().__init__()
            assert self.env.loader is not None
            overrides = DictLoader({"data_docs_default_styles.css": _gx_default_styles()})
            self.env.loader = ChoiceLoader([overrides, FileSystemLoader(TEMPLATES), self.env.loader])
            self._ids: Iterator[int] = itertools.count(1)

        def generate_html_element_uuid(self, prefix: str | None = None) -> str:
            return f"{prefix or ''}{next(self._ids)}"

        @pass_context
        def render_content_block(
            self, jinja_context: Any, content_block: Any, index: Any = None, content_block_id: Any = None, render_to_markdown: bool = False
        ) -> Any:
            if not render_to_markdown:
                content_block = _escape_bare(content_block)
            return super().render_content_block(jinja_context, content_block, index, content_block_id, render_to_markdown)

    return _OfflinePageView


def _is_block(value: Any) -> bool:
    from great_expectations.render import RenderedComponentContent

    return isinstance(value, RenderedComponentContent) or (isinstance(value, dict) and "content_block_type" in value)


def _escape_bare(value: Any) -> Any:
    """Escape a value GX would write raw: a bare string or number, or such items of a list."""
    if value is None or _is_block(value):
        return value
    if isinstance(value, list):
        return [item if _is_block(item) else html.escape(str(item), quote=False) for item in value]
    return html.escape(str(value), quote=False)


def _has_chart(document: Any) -> bool:
    if isinstance(document, dict):
        return document.get("content_block_type") == "graph" or any(_has_chart(value) for value in document.values())
    if isinstance(document, list):
        return any(_has_chart(value) for value in document)
    return False


SEVERITY_MEANS = {"critical": "a failure stops the pipeline", "warning": "a failure is reported; the data may go on"}


def _with_severity_note(expectation: dict[str, Any]) -> dict[str, Any]:
    """``expectation`` whose notes start with its severity: GX shows the notes beside each
    expectation (the comment icon) but not the severity."""
    severity = expectation.get("severity") or "critical"
    notes = expectation.get("notes") or []
    lead = f"**Severity: {severity}** ({SEVERITY_MEANS.get(severity, 'as GX defines it')})."
    return {**expectation, "notes": [lead, *([notes] if isinstance(notes, str) else notes)]}


def _failed_by_severity(validation_results: Any) -> dict[str, int]:
    failed: dict[str, int] = {}
    for result in validation_results.results:
        if not result.success:
            severity = str(result.expectation_config.severity.value if result.expectation_config else "critical")
            failed[severity] = failed.get(severity, 0) + 1
    return failed


def _validation_document(validation_result: dict[str, Any]) -> Any:
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResultSchema
    from great_expectations.render.renderer import ValidationResultsPageRenderer

    class _Renderer(ValidationResultsPageRenderer):
        @classmethod
        def _render_validation_header(cls, validation_results: Any) -> Any:
            header = super()._render_validation_header(validation_results)
            template = header.subheader.string_template
            # GX links the suite name to its site layout (../../../../expectations/<suite>.html).
            template["styling"]["params"]["expectation_suite_name"]["attributes"]["href"] = "suite.html"
            # The status is the gate's (no failed critical expectation); say what failed besides.
            failed = _failed_by_severity(validation_results)
            if failed:
                counts = ", ".join(f"{count} {severity}" for severity, count in sorted(failed.items()))
                template["params"]["success"] += f" ({counts} expectation(s) failed)"
            return header

    schema = ExpectationSuiteValidationResultSchema()
    known = {key: value for key, value in validation_result.items() if key in schema.fields}
    known["results"] = [{**item, "expectation_config": _with_severity_note(item["expectation_config"])} for item in known.get("results", [])]
    renderer = _Renderer()
    # GX's results table shows an expectation's notes only on the suite page; this table adds them
    # (and so the severity) under each result. GX loads its table class by name; set it directly.
    renderer._column_section_renderer._table_renderer = _table_with_notes()
    return renderer.render(schema.load(known))


def _table_with_notes() -> type:
    from great_expectations.render.renderer.content_block import ValidationResultsTableContentBlockRenderer

    class _TableWithNotes(ValidationResultsTableContentBlockRenderer):
        @classmethod
        def _get_content_block_fn(cls, expectation_type: str, expectation_config: Any = None) -> Any:
            row_fn = super()._get_content_block_fn(expectation_type=expectation_type, expectation_config=expectation_config)

            def row_with_notes(configuration: Any = None, result: Any = None, runtime_configuration: Any = None, **kwargs: Any) -> Any:
                rows = row_fn(configuration=configuration, result=result, runtime_configuration=runtime_configuration, **kwargs)
                notes = cls._render_expectation_notes(result.expectation_config) if result is not None and result.expectation_config else None
                if notes and rows:
                    cell = rows[0][1]  # status, expectation, observed value
                    rows[0][1] = [*cell, notes] if isinstance(cell, list) else [cell, notes]
                return rows

            return row_with_notes

    return _TableWithNotes


def _suite_document(suite: dict[str, Any]) -> Any:
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.render.renderer import ExpectationSuitePageRenderer

    keys = ("name", "id", "expectations", "suite_parameters", "meta", "notes")
    fields = {key: suite[key] for key in keys if key in suite}
    fields["expectations"] = [_with_severity_note(expectation) for expectation in suite["expectations"]]
    return ExpectationSuitePageRenderer().render(ExpectationSuite(**fields))


def render_pages(
    validation_result: dict[str, Any], suite: dict[str, Any], title: str, home_href: str | None = None, static: str = f"{STATIC}/"
) -> tuple[dict[str, str], bool]:
    """Render ``{file name: html}`` for both pages, loading assets from ``static`` (a relative URL
    ending in ``/``); also say whether any page draws a Vega chart."""
    view_class = _view_class()
    documents = {"index.html": _validation_document(validation_result), "suite.html": _suite_document(suite)}
    pages: dict[str, str] = {}
    any_chart = False
    for name, label in PAGES:
        document = documents[name]
        charts = _has_chart(document.to_json_dict())
        any_chart = any_chart or charts
        pages[name] = view_class().render(
            document,
            docs_title=title,
            page_nav_label=label,
            nav_links=[(href, text) for href, text in PAGES],
            home_href=home_href,
            static=static,
            charts=charts,
        )
        remote = remote_references(pages[name])
        if remote:
            raise RuntimeError(f"Data Docs page {name} would load remote resources: {', '.join(sorted(set(remote)))}")
    return pages, any_chart


def write_assets(static_dir: Path) -> Path:
    """Copy every vendored asset and the licences into ``static_dir``, replacing the folder whole."""
    static_dir = Path(static_dir)
    static_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{static_dir.name}.", suffix=".tmp", dir=static_dir.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the assets are for everyone who reads reports/
    try:
        for asset in BASE_ASSETS + CHART_ASSETS:
            target = staging / asset
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ASSETS / asset, target)
        shutil.copytree(ASSETS / "licenses", staging / "licenses")
        _swap_in(staging, static_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("datadocs: wrote %d shared assets to %s", len(BASE_ASSETS) + len(CHART_ASSETS), static_dir)
    return static_dir


def assets_in_place(static_dir: Path) -> bool:
    """Whether ``static_dir`` holds every vendored asset, each the size of the vendored file."""
    found = [Path(static_dir) / asset for asset in BASE_ASSETS + CHART_ASSETS]
    return all(path.is_file() and path.stat().st_size == (ASSETS / asset).stat().st_size for path, asset in zip(found, BASE_ASSETS + CHART_ASSETS, strict=True))


def write_data_docs(
    validation_result: dict[str, Any], suite: dict[str, Any], out_dir: Path, title: str, home_href: str | None = None, static_dir: Path | None = None
) -> Path:
    """Write offline Data Docs for one validation into ``out_dir``; return ``out_dir/index.html``.

    ``validation_result`` is GX's ``ExpectationSuiteValidationResult.to_json_dict()``, ``suite`` the
    suite as JSON. ``out_dir`` is replaced as a whole: ``index.html`` (validation results) and
    ``suite.html`` (the suite). The pages load their assets from ``static_dir`` (default: ``static``
    beside ``out_dir``, shared by every domain), which is written when it lacks them (run by hand;
    in the pipeline the ``docs_assets`` stage has written it). ``home_href``, if given, is a link
    (relative to ``out_dir``) to show as "Stewards' report".
    """
    out_dir = Path(out_dir)
    static_dir = Path(static_dir) if static_dir is not None else out_dir.parent / STATIC
    prefix = Path(os.path.relpath(static_dir.resolve(), out_dir.resolve())).as_posix() + "/"
    pages, charts = render_pages(validation_result, suite, title, home_href, static=prefix)
    if not assets_in_place(static_dir):
        write_assets(static_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the docs folder is for everyone who reads reports/
    try:
        for name, text in pages.items():
            (staging / name).write_text(text, encoding="utf-8")
        _swap_in(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    index = out_dir / "index.html"
    log.info("datadocs: wrote %s and %s (assets from %s%s)", index, out_dir / "suite.html", static_dir, ", with Vega" if charts else "")
    return index


def _swap_in(staging: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` by ``staging`` with renames, so readers see the old folder or the new one."""
    if not out_dir.exists():
        os.replace(staging, out_dir)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".old", dir=out_dir.parent))
    os.replace(out_dir, old / out_dir.name)
    try:
        os.replace(staging, out_dir)
    except OSError:
        os.replace(old / out_dir.name, out_dir)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)
