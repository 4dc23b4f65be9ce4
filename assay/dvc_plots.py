"""The page ``dvc plots show`` fills, with Vega inlined, so that the plots render offline.

DVC's own page loads Vega, Vega-Lite and vega-embed from a CDN: offline it is blank ("vegaEmbed is
not defined"). ``.dvc/config`` points ``plots.html_template`` at ``.dvc/plots.html``, which this
module writes from the copies vendored for Data Docs (``assay/quality/assets/js``, versions and
licences in its README). The page has no ``{scripts}`` placeholder, so DVC adds no CDN script;
``{plot_divs}`` is where DVC puts the plots. ``tests/test_plots.py`` checks that the committed page
is this module's output, and renders ``dvc plots show`` in headless Chromium with no network.

Refresh after updating the vendored files: ``python -m assay.dvc_plots``.
"""

from __future__ import annotations

from pathlib import Path

from assay.io import write_text

ASSETS = Path(__file__).parent / "quality" / "assets"
SCRIPTS = ("js/vega.min.js", "js/vega-lite.min.js", "js/vega-embed.min.js")  # in load order
TEMPLATE = Path(".dvc") / "plots.html"  # relative to the repository root, as .dvc/config's html_template is to .dvc/

PAGE = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
{{refresh_tag}}
<title>DVC plots</title>
<!-- Vega, Vega-Lite and vega-embed, inlined from assay/quality/assets (written by python -m assay.dvc_plots; licences in assay/quality/assets/licenses). -->
{scripts}
<style>
body {{ font-family: sans-serif; }}
table {{ border-spacing: 15px; }}
</style>
</head>
<body>
{{plot_divs}}
</body>
</html>
"""


def plots_template() -> str:
    """The page: DVC's placeholders ``{refresh_tag}`` and ``{plot_divs}``, and the three libraries inlined."""
    scripts = []
    for name in SCRIPTS:
        source = (ASSETS / name).read_text(encoding="utf-8")
        if "</script" in source.lower():  # would end the inline script early
            raise ValueError(f"{name} holds '</script', which cannot be inlined as is")
        scripts.append(f"<script>\n{source.strip()}\n</script>")
    return PAGE.format(scripts="\n".join(scripts))


def main() -> None:
    """Write ``.dvc/plots.html`` (run from the repository root)."""
    write_text(plots_template(), TEMPLATE)


if __name__ == "__main__":
    main()
