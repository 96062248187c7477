"""One stall threshold (lrwatch.liveness) for the UI's header and the ``stalled`` rule."""

from __future__ import annotations

import time

from lrwatch import liveness
from lrwatch.records import Metrics
from lrwatch.rules import Engine, RuleConfig


def test_usual_gap_is_a_median_that_one_long_pause_does_not_move() -> None:
    assert liveness.usual_gap([0.0, 1.0]) is None  # too few to say
    assert liveness.usual_gap([0.0, 1.0, 2.0, 3.0, 300.0, 301.0]) == 1.0
    assert liveness.usual_gap([0.0, float("nan"), 2.0, 4.0]) == 2.0
    assert liveness.usual_gap([5.0, 5.0, 5.0]) is None  # no positive gap


def test_stalled_after_is_a_floor_or_a_few_usual_gaps() -> None:
    assert liveness.stalled_after(None) == liveness.MIN_QUIET_S
    assert liveness.stalled_after(1.0) == liveness.MIN_QUIET_S
    assert liveness.stalled_after(120.0) == liveness.QUIET_GAPS * 120.0
    assert liveness.stalled_after(120.0, min_seconds=10.0, factor=2.0) == 240.0


def test_the_rule_uses_the_same_defaults_as_the_header() -> None:
    cfg = RuleConfig().stalled
    assert (cfg.min_seconds, cfg.factor) == (liveness.MIN_QUIET_S, liveness.QUIET_GAPS)


def _engine(config: RuleConfig, every: float) -> Engine:
    engine = Engine(config)
    engine.feed([Metrics(i, {"loss": 1.0}, t=i * every) for i in range(30)])
    return engine


def test_the_rule_honours_its_toml_settings() -> None:
    cfg = RuleConfig()
    cfg.stalled.min_seconds, cfg.stalled.factor = 10.0, 2.0
    now = time.time()
    assert _engine(cfg, 1.0).check_stalled(now + 9) == []
    (f,) = _engine(cfg, 1.0).check_stalled(now + 11)
    assert f.evidence["limit_seconds"] == 10.0 and f.evidence["typical_interval_s"] == 1.0
    slow = _engine(cfg, 60.0)  # logs every minute: quiet for 2 gaps before it is stalled
    assert slow.check_stalled(now + 100) == []
    (g,) = slow.check_stalled(now + 130)
    assert g.evidence["limit_seconds"] == 120.0 and "usually one every 60.0 s" in g.message


def test_a_run_that_logs_rarely_is_stalled_after_five_of_its_gaps() -> None:
    engine = _engine(RuleConfig(), 120.0)
    now = time.time()
    assert engine.check_stalled(now + 590) == []  # the header's threshold: 600 s
    assert engine.check_stalled(now + 610)[0].evidence["limit_seconds"] == 600.0
