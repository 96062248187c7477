"""As-is and will-be curves from a run's forecast and a planned command (pure)."""

from __future__ import annotations

import math

import pytest

from lrwatch.lrchange import LRChange
from lrwatch.session.commands import Command, plan_change, plan_scale, plan_set
from lrwatch.session.preview import (
    OLD_RUN,
    Forecast,
    forecast_or_note,
    preview,
    scale_span,
)

REPLY = {
    "ok": True,
    "op": "schedule",
    "step": 10,
    "steps": [11, 12, 13, 14],
    "lr": [[1e-3, 8e-4, 6e-4, 4e-4], [1e-4, 1e-4, 1e-4, 1e-4]],
    "unpinned": [[1e-3, 8e-4, 6e-4, 4e-4], [2e-4, 1.6e-4, 1.2e-4, 8e-5]],
    "pinned": [None, 1e-4],
    "exact": True,
    "why": None,
    "scheduler": "LambdaLR",
}


def test_a_reply_parses_into_a_forecast() -> None:
    f = forecast_or_note(REPLY)
    assert isinstance(f, Forecast)
    assert (f.step, f.steps, f.scheduler, f.exact, f.why) == (
        10,
        [11, 12, 13, 14],
        "LambdaLR",
        True,
        "",
    )
    assert f.unpinned is not None and f.unpinned[1][0] == 2e-4


def test_rescale_multiplies_the_schedule_and_pin_holds_the_new_value() -> None:
    f = Forecast.from_reply(REPLY)
    # Planned from an older LR (9e-4): the ratio is what the change means, applied to the run's.
    rescale = preview(f, plan_scale(0.5, [9e-4, 1e-4], "rescale"))
    assert rescale is not None and rescale.label == "rescale ÷2"
    assert rescale.as_is == REPLY["lr"][0]
    assert rescale.will_be == [v * 0.5 for v in REPLY["lr"][0]]
    pin = preview(f, plan_scale(0.5, [9e-4, 1e-4], "pin"))
    assert pin is not None and pin.will_be == [5e-4] * 4 and pin.label == "pin ÷2"


def test_set_lr_is_a_ratio_in_rescale_and_the_value_itself_in_pin() -> None:
    f = Forecast.from_reply(REPLY)
    rescale = preview(f, plan_set(2e-3, [1e-3, 1e-4], "rescale"))
    assert rescale is not None and rescale.will_be == pytest.approx([2e-3, 1.6e-3, 1.2e-3, 8e-4])
    pin = preview(f, plan_set(2e-3, [1e-3, 1e-4], "pin"))
    assert pin is not None and pin.will_be == [2e-3] * 4


def test_a_change_of_one_group_draws_that_group() -> None:
    f = Forecast.from_reply(REPLY)
    cmd = plan_change(LRChange.scale(3.0, group=1), [1e-3, 1e-4], "rescale")
    curves = preview(f, cmd)
    assert curves is not None and curves.group == 1
    assert curves.will_be == pytest.approx([3e-4] * 4)
    other = preview(f, cmd, group=0)
    assert other is not None and other.will_be == other.as_is  # group 0 is not changed


def test_unpin_goes_back_to_the_schedule() -> None:
    f = Forecast.from_reply(REPLY)
    curves = preview(f, Command("unpin", LRChange.unpin(1), [1e-3, 1e-4], [1e-3, 1e-4]))
    assert curves is not None and curves.as_is == [1e-4] * 4
    assert curves.will_be == REPLY["unpinned"][1]


def test_what_the_run_cannot_say_becomes_a_note() -> None:
    unknown = {"ok": False, "error": {"code": "unknown_op", "message": "unknown op 'schedule'"}}
    assert forecast_or_note(unknown) == OLD_RUN
    loop = {**REPLY, "steps": [], "lr": [], "exact": False, "why": "the loop sets the LR itself"}
    assert forecast_or_note(loop) == "no preview: the loop sets the LR itself"
    bad = {**REPLY, "lr": [[1.0]]}
    note = forecast_or_note(bad)
    assert isinstance(note, str) and "malformed" in note
    refused = {"ok": False, "error": {"code": "refused", "message": "no optimizer attached yet"}}
    assert forecast_or_note(refused) == "no preview: refused: no optimizer attached yet"


def test_a_forecast_that_is_not_exact_carries_its_note() -> None:
    f = Forecast.from_reply({**REPLY, "exact": False, "why": "ReduceLROnPlateau: flat"})
    curves = preview(f, plan_scale(0.1, [1e-3, 1e-4], "rescale"))
    assert curves is not None and curves.note == "ReduceLROnPlateau: flat"


def test_scale_span() -> None:
    assert scale_span([1e-3, 1e-5, math.nan, 0.0]) == pytest.approx(100.0)
    assert scale_span([]) == 1.0
