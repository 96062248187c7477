"""A big log's backlog: read flat out with progress, drawn once when read, rules afterwards.

The log is a little over one poll's budget (16 MB), so it takes two polls or more: the first
leaves a backlog. No timings: every wait is on a condition.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from lrwatch.session.events import DataArrived, FindingsChanged, ReadProgress, RulesProgress
from lrwatch.session.ingest import Ingest
from lrwatch.sources.follow import Follower
from lrwatch.sources.run import POLL_BUDGET
from lrwatch.store import MetricStore
from lrwatch.tui.summary import RunSummary, render_header

from .helpers import until

#: A NaN loss early in the log: the rules find it at once, but only once they are let go.
NAN_AT = 1000


def _read(paths: list[str], ingest: Ingest) -> None:
    """What a watching session does with its files, to their end."""
    ingest.begin_backlog()
    Follower(paths, follow=False).run(ingest.store, threading.Event(), ingest)


def _line(i: int) -> bytes:
    loss = "NaN" if i == NAN_AT else repr(2.0 / (1 + i * 1e-4))
    # Wide lines: the file passes the poll budget with few of them.
    return (
        f'{{"step": {i}, "loss": {loss}, "lr": 0.001, "grad_norm": 1.0, '
        f'"padding_metric_with_a_long_name_to_fill_the_line": {i % 7}.25}}\n'
    ).encode()


@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A finished JSONL log of a bit more than one poll budget, and its record count."""
    path = tmp_path_factory.mktemp("backlog") / "big.jsonl"
    n = POLL_BUDGET // len(_line(100_000)) * 5 // 4
    path.write_bytes(b"".join(_line(i) for i in range(n)))
    assert path.stat().st_size > POLL_BUDGET
    return path, n


def test_the_reader_reports_progress_and_holds_the_rules_until_released(
    big_log: tuple[Path, int],
) -> None:
    path, n = big_log
    posted: list[Any] = []
    ingest = Ingest(MetricStore(), threading.Lock(), posted.append, min_interval=0.0)
    ingest.start()
    try:
        _read([str(path)], ingest)
        run = next(iter(ingest.store.runs.values()))
        assert len(run.series["loss"]) == n
        progress = [m for m in posted if isinstance(m, ReadProgress)]
        assert progress[-1].done and not any(m.done for m in progress[:-1])
        assert progress[0].read < progress[0].total == path.stat().st_size  # a backlog
        assert progress[-1].read == progress[-1].total
        # Everything the done message covers was announced before it.
        last_data = max(i for i, m in enumerate(posted) if isinstance(m, DataArrived))
        assert last_data < posted.index(progress[-1])
        rules = ingest.rules
        assert rules is not None and rules.held and rules.backlog == n
        assert not any(isinstance(m, FindingsChanged) for m in posted)
        ingest.release_rules()
        deadline = time.monotonic() + 60
        while not any(isinstance(m, FindingsChanged) for m in posted):
            assert time.monotonic() < deadline, "no findings after the release"
            time.sleep(0.02)
    finally:
        ingest.close()
    found = next(m for m in posted if isinstance(m, FindingsChanged))
    assert "nan_inf" in {f.symptom for f in found.findings}
    assert posted.index(found) > posted.index(progress[-1])


def test_a_small_log_has_no_backlog_to_report(tmp_path: Path) -> None:
    path = tmp_path / "small.jsonl"
    path.write_bytes(b"".join(_line(i) for i in range(100)))
    posted: list[Any] = []
    ingest = Ingest(MetricStore(), threading.Lock(), posted.append, rules=False)
    _read([str(path)], ingest)
    size = path.stat().st_size
    assert [m for m in posted if isinstance(m, ReadProgress)] == [ReadProgress(size, size, True)]


def test_the_header_says_how_much_is_read() -> None:
    s = RunSummary("exp", "idle", 1200, None, None, 0.5, 0.4, reading=0.42)
    text = render_header(s, width=120).plain
    assert "reading 42%" in text and "idle" not in text and "1,200" in text
    s.reading = None
    assert "idle" in render_header(s, width=120).plain


async def test_the_app_draws_the_backlog_once_it_is_read_and_the_findings_after(
    big_log: tuple[Path, int],
) -> None:
    from lrwatch.tui.app import LRWatchApp

    path, n = big_log
    app = LRWatchApp(paths=[str(path)], follow=False)
    seen: list[Any] = []
    builds: list[tuple[int, bool]] = []  # (loss points drawn, reading then)

    def hook(message: Any) -> None:
        if isinstance(message, ReadProgress | FindingsChanged | RulesProgress):
            seen.append(message)

    async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
        panel = app.charts_w[0]
        orig = panel.lines

        def lines(w: int, h: int) -> list[Any]:
            run = next(iter(app.store.runs.values()), None)
            points = len(run.series.get("loss", ())) if run is not None else 0
            builds.append((points, app.loading is not None))
            return orig(w, h)

        panel.lines = lines  # type: ignore[method-assign]
        await until(pilot, lambda: any(p == n for p, _ in builds), timeout=60)
        progress = [m for m in seen if isinstance(m, ReadProgress)]
        assert progress[0].read < progress[0].total and progress[-1].done
        # No chart rebuild for the partial data: the first one with points has them all.
        assert [p for p, _ in builds if p][:1] == [n]
        assert getattr(app.header_w.summary, "step", None) == n - 1
        assert "reading" not in app.header_w._text().plain
        await until(pilot, lambda: any(isinstance(m, FindingsChanged) for m in seen), 60)
        first_finding = next(i for i, m in enumerate(seen) if isinstance(m, FindingsChanged))
        assert first_finding > seen.index(progress[-1])
        await until(pilot, lambda: any(f.symptom == "nan_inf" for f in app.findings_w.findings))
