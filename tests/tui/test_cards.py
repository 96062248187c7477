"""Finding cards offer ``[a]`` only where ``a`` can reach the run; read-only runs get advice."""

from __future__ import annotations

from pathlib import Path

from lrwatch.records import Event, Metrics
from lrwatch.store import MetricStore
from lrwatch.tui.app import LRWatchApp
from lrwatch.tui.cards import render_cards
from lrwatch.tui.messages import FindingsChanged

from .helpers import finding, until


def test_a_read_only_card_gives_the_advice_without_a_key() -> None:
    controllable = render_cards([finding(40)], 0, 34, 40).plain
    assert "[a] ÷10" in controllable and "fix: reduce LR 10×" in controllable
    read_only = render_cards([finding(40)], 0, 34, 40, controllable=False).plain
    assert "[a]" not in read_only and "advice: reduce LR 10×" in read_only


def _store(header: dict[str, object]) -> MetricStore:
    store = MetricStore()
    recs = [Event("run", {"run": "exp", "t": 1.0, "lr": [0.1], **header}, None, 1.0)]
    store.add("exp", recs + [Metrics(i, {"loss": 1.0 + i, "lr": 0.1}, 1.0 + i) for i in range(30)])
    return store


async def _panel_text(store: MetricStore) -> str:
    app = LRWatchApp(store=store)
    async with app.run_test(size=(80, 24)) as pilot:
        app.post_message(FindingsChanged("exp", [finding(20)]))
        await until(pilot, lambda: "findings (1)" in str(app.findings_w.render()))
        return str(app.findings_w.render())


async def test_the_panel_offers_a_only_on_a_run_with_a_control_socket(tmp_path: Path) -> None:
    # No control socket in the header (a log read after the fact, plain CSV, ...): advice.
    text = await _panel_text(_store({}))
    assert "[a]" not in text and "advice:" in text, text
    # A socket the run announced: `a` is offered (and connecting is retried meanwhile).
    text = await _panel_text(_store({"control": f"unix:{tmp_path / 'exp.sock'}"}))
    assert "[a]" in text and "advice:" not in text, text
