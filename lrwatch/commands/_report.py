"""Writing a picture of diagnosed runs: ``lrwatch plot -o FILE`` and ``diagnose --report``.

Both commands read the logs with :func:`lrwatch.commands.diagnose.diagnose_paths` into a store
(the rule engine ran exactly as ``diagnose`` runs it), then call :func:`write_picture`, so the
HTML of ``plot -o FILE.html`` and of ``diagnose --report FILE.html`` is one page.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrwatch.picture.primitives import Scene
from lrwatch.picture.scene import Options, build_scene
from lrwatch.picture.svg import to_svg
from lrwatch.picture.theme import no_color
from lrwatch.store import MetricStore, RunData

#: Output format by file suffix.
FORMATS = {".svg": "svg", ".png": "png", ".html": "html", ".htm": "html"}


@dataclass(frozen=True)
class PictureOptions:
    """``--theme`` (None: dark for SVG/PNG, auto for HTML), size, smoothing, and colour
    (``mono`` None: monochrome when ``NO_COLOR`` is set)."""

    theme: str | None = None
    width: int = 1200
    height: int = 0
    smoothing: float = 0.9
    mono: bool | None = None


def format_of_path(path: str) -> str | None:
    """``svg``, ``png`` or ``html`` from the file's suffix; None for any other."""
    return FORMATS.get(Path(path).suffix.lower())


def shown_runs(store: MetricStore, results: list[dict[str, Any]]) -> list[RunData]:
    """The store's runs in the order diagnose reported them."""
    return [store.runs[r["name"]] for r in results if r["name"] in store.runs]


def make_scene(store: MetricStore, results: list[dict[str, Any]], opts: PictureOptions) -> Scene:
    """The picture of the diagnosed runs, their findings annotated."""
    mono = no_color() if opts.mono is None else opts.mono
    findings = {r["name"]: r["findings"] for r in results}
    options = Options(opts.width, opts.height, opts.smoothing, mono)
    return build_scene(shown_runs(store, results), findings, options)


def write_picture(
    path: str,
    store: MetricStore,
    results: list[dict[str, Any]],
    fmt: str | None = None,
    opts: PictureOptions | None = None,
) -> Scene:
    """Write ``path`` as ``fmt`` (default: by its suffix); returns the scene drawn.

    Raises OSError when the file cannot be written, and
    :class:`lrwatch.picture.png.PngUnavailable` for a PNG without Pillow.
    """
    opts = opts or PictureOptions()
    fmt = fmt or format_of_path(path) or "svg"
    scene = make_scene(store, results, opts)
    mono = scene.mono
    if fmt == "png":
        from lrwatch.picture.png import to_png

        data = to_png(scene, opts.theme or "dark")
        Path(path).write_bytes(data)
    elif fmt == "html":
        text = report_html(store, results, scene, opts.theme or "auto", mono)
        Path(path).write_text(text, encoding="utf-8")
    else:
        Path(path).write_text(to_svg(scene, opts.theme or "dark"), encoding="utf-8")
    return scene


def report_html(
    store: MetricStore,
    results: list[dict[str, Any]],
    scene: Scene,
    theme: str,
    mono: bool,
) -> str:
    """The self-contained page: the picture, each run's verdict and findings (evidence, fix),
    and its ``lrwatch inspect`` summary."""
    from lrwatch.commands.inspect import render, summarize
    from lrwatch.picture.report import RunSection, html_page
    from lrwatch.rules.finding import evidence_text

    sections = []
    for r in results:
        run = store.runs.get(r["name"])
        sections.append(
            RunSection(
                name=r["name"],
                path=r["path"],
                verdict=r["verdict"],
                findings=list(r["findings"]),
                evidence=[evidence_text(f["evidence"]) for f in r["findings"]],
                summary=render([summarize(run)]) if run is not None else "",
            )
        )
    svg = to_svg(scene, "auto", standalone=False, style=False)
    return html_page(scene.title, svg, sections, theme, mono)
