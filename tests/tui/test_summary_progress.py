"""The header's progress bar and ETA, and a layout that keeps its form as the numbers change."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lrwatch.records import Event, Metrics
from lrwatch.session.control import ControlInfo
from lrwatch.store import MetricStore, RunData
from lrwatch.tui.app import LRWatchApp
from lrwatch.tui.progress import bar, eta_seconds, fmt_eta, fmt_percent
from lrwatch.tui.summary import RunSummary, render_header, summarize

from .helpers import until


def _run(total: int | None, steps: int, per_s: float = 5.0) -> RunData:
    """A run of ``steps`` steps at ``per_s`` steps/s, with its total in the header."""
    header = {"run": "train", "t": 0.0} | ({"total_steps": total} if total else {})
    run = MetricStore().run("train")
    run.add([Event("run", header, None, 0.0)])
    run.add(Metrics(i, {"loss": 2.0 - i / 1e4, "lr": 3e-4}, i / per_s) for i in range(steps))
    return run


def test_eta_and_progress_of_a_live_run() -> None:
    run = _run(5000, 1201)
    s = summarize(run, now=240.5, last_write=240.0, control=ControlInfo())
    assert (s.state, s.step, s.total_steps) == ("live", 1200, 5000)
    assert s.steps_per_s == pytest.approx(5.0)
    assert s.eta == pytest.approx(3800 / 5.0)  # 12m40s
    for width in (80, 120):
        line1, line2 = render_header(s, width=width).plain.splitlines()
        assert "step 1,200/5,000" in line1
        assert " 24%  ETA 12m40s" in line2 and "█" in line2 and "░" in line2


@pytest.mark.parametrize(
    ("state", "eta"),
    [("stalled", "ETA —"), ("paused", "ETA —"), ("idle", "ETA —"), ("finished", None)],
)
def test_no_promise_from_a_run_that_is_not_moving(state: str, eta: str | None) -> None:
    s = RunSummary("r", state, 2000, 5.0, 400.0, 2.0, 1.9, [3e-4], total_steps=5000)
    text = render_header(s, width=120).plain
    assert " 40%" in text
    if eta is None:
        assert "ETA" not in text  # finished or crashed: no ETA at all
    else:
        assert eta in text and "ETA 10m00s" not in text


def test_without_a_total_nothing_changes() -> None:
    s = RunSummary("r", "live", 1200, 5.0, 240.0, 2.0, 1.9, [3e-4])
    with_total = RunSummary("r", "live", 1200, 5.0, 240.0, 2.0, 1.9, [3e-4], total_steps=5000)
    for width in (None, 80, 120):
        text = render_header(s, width=width).plain
        assert "%" not in text and "ETA" not in text and "1,200/" not in text
        assert "ETA" in render_header(with_total, width=width).plain


def test_progress_pieces() -> None:
    assert bar(0.0, 10) == "░" * 10 and bar(1.0, 10) == "█" * 10
    assert bar(0.24, 10) == "██▍░░░░░░░" and len(bar(0.999, 20)) == 20
    assert [fmt_percent(x) for x in (0.0, 0.05, 0.999, 1.0)] == ["  0%", "  5%", " 99%", "100%"]
    assert [fmt_eta(x).strip() for x in (None, 9.6, 760.0, 3 * 3600 + 300, 5 * 86400)] == [
        "—",
        "10s",
        "12m40s",
        "3h05m",
        "5d00h",
    ]
    assert len({len(fmt_eta(x)) for x in (None, 1.0, 760.0, 3 * 3600.0)}) == 1  # fixed width
    assert eta_seconds(5000, 5000, None, "stalled") == 0.0  # done is done
    assert eta_seconds(10, 100, 0.0, "live") is None


def _updates(total: int | None) -> list[RunSummary]:
    """Successive headers of one run whose numbers cross digit boundaries: steps/s 9.9 ->
    10.0 -> 100.0, elapsed 59s -> 1m00s -> 10m00s, step 9,999 -> 10,000, loss 9.99 -> 10.5."""
    out = []
    for i, (pace, elapsed, step, loss) in enumerate(
        [
            (9.9, 59.0, 999, 9.99),
            (10.0, 60.0, 9_999, 10.5),
            (5.0, 143.0, 10_000, 0.123456),
            (100.0, 600.0, 123_456, 1e-5),
            (0.5, 3599.0, 7, 2.0),
            (None, None, None, None),
        ]
    ):
        s = RunSummary("lr-too-high", "live", step, pace, elapsed, loss, loss, [3e-4, 1e-3])
        s.total_steps = total
        s.control = ControlInfo("unix:/tmp/runs/lr-too-high.sock", connected=i % 2 == 0)
        out.append(s)
    return out


def _form(line: str) -> str:
    """Which labels a first header line uses: long (``steps/s``, ``elapsed``) or short."""
    return "long" if "steps/s" in line or "elapsed" in line else "short"


@pytest.mark.parametrize("total", [None, 250_000])
def test_the_label_form_depends_on_the_width_only(total: int | None) -> None:
    """The header jumped between 'steps/s 5.0  elapsed 2m23s' and '5.0/s  2m21s' as the
    numbers changed width; now one run at one width keeps one form through its updates."""
    for width in range(50, 200):
        forms = set()
        for s in _updates(total):
            lines = render_header(s, width=width).plain.splitlines()
            assert len(lines) == 2 and all(len(line) <= width for line in lines)
            if s.steps_per_s is not None:  # unknown values are left out in both forms
                forms.add(_form(lines[0]))
        assert len(forms) == 1, (width, forms)
    assert _form(render_header(_updates(total)[2], width=80).plain) == "short"
    assert _form(render_header(_updates(total)[2], width=120).plain) == "long"


def test_the_progress_text_keeps_its_place() -> None:
    """The bar, the percent and the ETA are drawn in fixed widths: what follows them stays put
    from update to update (here the control text)."""
    spots = set()
    for step, pace in ((1, 100.0), (1200, 5.0), (4999, 0.001), (2500, None)):
        s = RunSummary("r", "live", step, pace, 60.0, 2.0, 1.9, [3e-4], total_steps=5000)
        s.control = ControlInfo("unix:/tmp/r.sock", True)
        for width in (80, 120):
            line2 = render_header(s, width=width).plain.splitlines()[1]
            spots.add((width, line2.index("control")))
    assert len(spots) == 2


_WRITER = """
import json, sys, time
with open(sys.argv[1], "a") as f:
    f.write(json.dumps({"kind": "run", "v": 1, "run": "tot", "t": time.time()}) + "\\n")
    for i in range(1, 41):
        f.write(json.dumps({"step": i, "t": time.time() - (40 - i) * 0.2, "loss": 2.0}) + "\\n")
    f.write(json.dumps({"kind": "meta", "step": 40, "t": time.time(), "total_steps": 400}) + "\\n")
"""


async def test_the_header_shows_progress_of_a_followed_log(tmp_path: Path) -> None:
    """A log written by a separate process, its total in a ``meta`` record: the header of the
    running app shows the step out of the total, the percent and an ETA."""
    log = tmp_path / "tot.jsonl"
    subprocess.run([sys.executable, "-c", _WRITER, str(log)], check=True, timeout=60)
    app = LRWatchApp(paths=[str(log)])
    async with app.run_test(size=(80, 24)) as pilot:
        header = app.header_w

        def text() -> str:
            return header.render().plain if header.summary is not None else ""

        await until(pilot, lambda: "ETA" in text())
        line1, line2 = text().splitlines()
        assert "step 40/400" in line1 and " 10%  ETA " in line2


def test_pace_of_a_log_without_times_from_when_its_steps_arrive() -> None:
    from lrwatch.tui.progress import ArrivalPace

    pace = ArrivalPace(window=60.0, min_span=2.0)
    assert pace.pace("r", 100, "live", True, 0.0) is None  # the backlog: not a pace
    assert pace.pace("r", 100, "live", False, 1.0) is None
    assert pace.pace("r", 105, "live", False, 2.0) is None  # too short a span yet
    assert pace.pace("r", 115, "live", False, 4.0) == pytest.approx(5.0)
    assert pace.pace("r", 115, "stalled", False, 9.0) is None  # not moving: starts over
    assert pace.pace("other", 10, "live", False, 10.0) is None
    for i in range(1, 200):  # a minute's window: the old samples leave
        got = pace.pace("other", 10 + i * (2 if i > 100 else 1), "live", False, 10.0 + i)
    assert got == pytest.approx(2.0, rel=0.05)
