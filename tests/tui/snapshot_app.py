"""The app on fixed data for snapshot tests and docs/screenshot.svg (no clocks, no workers)."""

from __future__ import annotations

from lrwatch.rules import Engine
from lrwatch.store import MetricStore
from lrwatch.tui.app import LRWatchApp

try:
    from .conftest import make_records
except ImportError:  # run as a script
    from conftest import make_records  # type: ignore[no-redef]


def fixed_app() -> LRWatchApp:
    """exp1 with a spike, a NaN, an LR change and the engine's findings, at a fixed time."""
    records = make_records()
    store = MetricStore()
    store.add("exp1", records)
    engine = Engine()
    engine.feed(records)
    app = LRWatchApp(store, clock=lambda: 1650.0)
    app.findings["exp1"] = list(engine.findings)
    return app


if __name__ == "__main__":
    fixed_app().run()
