"""``watch --loss``: the UI charts the metric the user named as the loss."""

from __future__ import annotations

from pathlib import Path

from lrwatch.tui.app import LRWatchApp

from .helpers import until

YOLO = Path(__file__).resolve().parents[1] / "fixtures" / "real" / "yolo"
LOG = YOLO / "wheat_weed_yolov8_results.csv"


async def test_watch_charts_the_chosen_and_the_named_loss() -> None:
    chosen = LRWatchApp(paths=[str(LOG)], follow=False)
    async with chosen.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: "loss" in _series(chosen))
        # No metric is called loss: the three logged parts are summed (lrwatch.losschoice).
        assert _series(chosen)["loss"].values[0] == 1.1267 + 1.17186 + 1.15737
    named = LRWatchApp(paths=[str(LOG)], follow=False, source_options={"loss": "train/cls_loss"})
    async with named.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: "loss" in _series(named))
        assert list(_series(named)["loss"].values[:2]) == [1.17186, 1.03603]


def _series(app: LRWatchApp) -> dict:
    with app.lock:
        runs = list(app.store.runs.values())
        return dict(runs[0].series) if runs else {}
