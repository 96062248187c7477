"""The autopilot's policy with synthetic views (pure and fast): every bound, under a run that
keeps re-triggering; clamping; spacing; the outcome check (revert, stop); rewind."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pytest

from lrwatch.lrchange import LRChange
from lrwatch.records import Event, Metrics
from lrwatch.rules.finding import Finding
from lrwatch.session.autopilot import Autopilot, Bounds, Decision
from lrwatch.session.commands import plan_action
from lrwatch.session.pilot_view import ChangeRecord, PilotView, pilot_view, split_at
from lrwatch.store import MetricStore

NOW = 1000.0


def finding(
    onset: int = 100,
    symptom: str = "divergence",
    severity: str = "error",
    action: LRChange | None = None,
    resolved: bool = False,
) -> Finding:
    """A finding as the rules report it (id ``a:SYMPTOM@ONSET``)."""
    return Finding(
        symptom,
        severity,
        onset,
        onset + 5,
        message="Loss is diverging.",
        action=LRChange.scale(0.1) if action is None else action,
        resolved=resolved,
        id=f"a:{symptom}@{onset}",
    )


@dataclass
class Sim:
    """A synthetic run: its loss points, LR, findings and log records, as a view shows them."""

    lrs: list[float] = field(default_factory=lambda: [0.1])
    first: list[float] = field(default_factory=lambda: [0.1])
    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    changes: list[ChangeRecord] = field(default_factory=list)
    snapshots: tuple[int, ...] = ()
    ended: bool = False

    def advance(self, n: int, value: float = 1.0) -> None:
        start = self.steps[-1] + 1 if self.steps else 1
        self.steps += range(start, start + n)
        self.loss += [value] * n

    @property
    def step(self) -> int:
        return self.steps[-1] if self.steps else 0

    def view(self) -> PilotView:
        return PilotView(
            "a",
            np.array(self.steps, dtype=np.int64),
            np.array(self.loss, dtype=float),
            self.steps[-1] if self.steps else None,
            list(self.lrs),
            list(self.first),
            list(self.findings),
            tuple(self.changes),
            self.ended,
            self.snapshots,
        )

    def ack(self, d: Decision) -> dict[str, Any]:
        """Apply ``d`` as the run would and return its ack; log its record."""
        assert d.command is not None
        args = d.request().args
        if d.kind == "rewind":
            to = args["to_step"]
            old, self.lrs = self.lrs, [x * args["scale_lr"] for x in self.lrs]
            reply = {"ok": True, "step": self.step, "to_step": to, "old": old, "new": self.lrs}
            self.changes.append(
                ChangeRecord("rewind", self.step, "autopilot", d.finding, d.reason, to)
            )
            return reply
        old, self.lrs = self.lrs, d.command.new
        step = self.step + 1
        self.changes.append(ChangeRecord("lr_change", step, "autopilot", d.finding, d.reason))
        return {"ok": True, "step": step, "old": old, "new": self.lrs}


def decide(pilot: Autopilot, sim: Sim, now: float = NOW) -> list[Decision]:
    return pilot.decide("a", sim.view(), now)


def one(decisions: list[Decision], kind: str) -> Decision:
    assert [d.kind for d in decisions] == [kind], decisions
    return decisions[0]


def test_a_change_is_what_the_a_key_plans_with_attribution_and_a_countdown() -> None:
    sim = Sim(findings=[finding()])
    sim.advance(120)
    pilot = Autopilot()
    d = one(decide(pilot, sim), "change")
    assert d.command == plan_action(LRChange.scale(0.1), [0.1], "rescale")
    args = d.request().args
    assert args["factor"] == 0.1 and args["mode"] == "rescale"
    assert args["by"] == "autopilot" and args["finding"] == "a:divergence@100"
    assert args["reason"].startswith("divergence at step 100: ÷10")
    assert d.describe(NOW) == "autopilot: ÷10 on run a (divergence since step 100) in 5 s"
    assert d.describe(NOW + 5) == "autopilot: ÷10 on run a (divergence since step 100)"
    assert decide(pilot, sim) == []  # one in flight per run: nothing more until answered


def test_only_open_findings_at_or_above_the_severity_with_an_action() -> None:
    sim = Sim(
        findings=[
            finding(10, severity="warning"),
            finding(20, resolved=True),
            replace(finding(30, symptom="val_nan"), action=None),
        ]
    )
    sim.advance(120)
    assert decide(Autopilot(), sim) == []
    warned = one(decide(Autopilot(Bounds(severity="warning")), sim), "change")
    assert warned.finding == "a:divergence@10"


def test_the_most_severe_then_newest_finding_goes_first() -> None:
    sim = Sim(findings=[finding(10), finding(40, "loss_spike"), finding(30, "x", "warning")])
    sim.findings[1].last_step = 90
    sim.advance(120)
    assert one(decide(Autopilot(), sim), "change").finding == "a:loss_spike@40"


def test_an_increase_is_skipped_once_unless_allowed_and_then_clamped_to_the_ceiling() -> None:
    sim = Sim(findings=[finding(action=LRChange.scale(10.0), symptom="slow_progress")])
    sim.lrs = [0.05]
    sim.advance(120)
    pilot = Autopilot()
    skip = one(decide(pilot, sim), "skip")
    assert skip.reason == "increases are not allowed" and skip.command is None
    assert (
        skip.request().op == "note" and "increases are not allowed" in skip.request().args["text"]
    )
    assert decide(pilot, sim) == []  # said once; the finding is dropped
    d = one(decide(Autopilot(Bounds(actions=frozenset({"increase"}))), sim), "change")
    assert d.command is not None and d.command.new == pytest.approx([0.1])  # ceiling 1× 0.1
    assert "clamped to the ceiling" in d.reason and d.request().args["factor"] == pytest.approx(2)


def test_a_decrease_below_the_floor_is_clamped_and_at_the_floor_skipped() -> None:
    sim = Sim(lrs=[0.0004], first=[0.1], findings=[finding()])
    sim.advance(120)
    d = one(decide(Autopilot(Bounds(floor=1e-3)), sim), "change")
    assert d.command is not None and d.command.new == pytest.approx([1e-4])
    assert "clamped to the floor" in d.reason and d.request().args["factor"] == pytest.approx(0.25)
    sim.lrs = [1e-4]
    skip = one(decide(Autopilot(Bounds(floor=1e-3)), sim), "skip")
    assert skip.reason.startswith("the LR is at its floor")


def test_bounds_hold_per_group_against_each_groups_first_lr() -> None:
    sim = Sim(lrs=[0.1, 0.002], first=[0.1, 0.01], findings=[finding()])
    sim.advance(120)
    d = one(decide(Autopilot(Bounds(floor=0.1)), sim), "change")
    assert d.command is not None and d.command.new == pytest.approx([0.05, 0.001])  # g1 floor


def test_a_run_that_keeps_retriggering_stays_inside_every_bound() -> None:
    """A new divergence every 60 steps; each change is answered and its outcome held. The
    autopilot makes at most 3 changes, ≥ 100 steps apart, never below the floor, and says
    each skip once."""
    bounds = Bounds(max_changes=3, min_steps=100, floor=0.005, horizon=20)
    pilot, sim = Autopilot(bounds), Sim()
    sim.advance(40, 5.0)
    made: list[tuple[int, float]] = []
    notes: list[Decision] = []
    for k in range(12):
        sim.findings.append(finding(sim.step))
        for d in decide(pilot, sim):
            if d.changes:
                reply = sim.ack(d)
                assert pilot.answered(d, True, reply) == []
                made.append((reply["step"], sim.lrs[0]))
            else:
                notes.append(d)
        sim.findings = [replace(f, resolved=True) for f in sim.findings]
        sim.advance(60, 5.0 - 0.4 * k)  # better after each change: outcomes hold
        notes += decide(pilot, sim)
    assert len(made) == 3
    assert all(b - a >= 100 for (a, _), (b, _) in itertools.pairwise(made))
    assert all(lr >= 0.005 * 0.1 * (1 - 1e-9) for _, lr in made)
    assert made[-1][1] == pytest.approx(0.0005)  # the third was clamped to the floor
    assert [n.kind for n in notes].count("held") == 3
    skips = [(n.finding, n.reason.split(":")[0]) for n in notes if n.kind == "skip"]
    assert len(skips) == len(set(skips))  # each said once per finding and bound
    assert ("a:divergence@40", "waits") not in skips  # the first change waited for nothing
    assert any(why == "waits" for _, why in skips)
    assert any(why == "made the most changes (3)" for _, why in skips)


def _changed(bounds: Bounds, after: float, resolved: bool = True) -> tuple[Autopilot, Sim]:
    """A change answered at step 121 after 120 points of loss 2.0, then ``bounds.horizon``
    points of ``after``, the finding resolved or not."""
    pilot, sim = Autopilot(bounds), Sim(findings=[finding()])
    sim.advance(120, 2.0)
    d = one(decide(pilot, sim), "change")
    pilot.answered(d, True, sim.ack(d))
    sim.advance(bounds.horizon - 1, after)
    assert decide(pilot, sim) == []  # not judged before the horizon
    sim.advance(1, after)
    if resolved:
        sim.findings = [replace(f, resolved=True) for f in sim.findings]
    return pilot, sim


def test_a_change_that_made_the_loss_worse_is_reverted() -> None:
    pilot, sim = _changed(Bounds(horizon=30), after=3.0)
    d = one(decide(pilot, sim, NOW + 60), "revert")
    assert d.reason == (
        "revert: the loss got worse after ÷10 (median loss 2 before, 3 at the end of 30 points)"
    )
    assert d.command is not None and d.command.new == pytest.approx([0.1])
    args = d.request().args
    assert args["factor"] == pytest.approx(10) and args["by"] == "autopilot"
    assert args["finding"] == "a:divergence@100" and d.due == NOW + 65
    assert decide(pilot, sim) == []  # in flight
    pilot.answered(d, True, sim.ack(d))
    sim.findings.append(finding(sim.step))
    assert [x.kind for x in decide(pilot, sim)] == ["skip"]  # the revert counts for spacing


def test_a_change_whose_finding_did_not_resolve_or_went_nonfinite_is_reverted() -> None:
    pilot, sim = _changed(Bounds(horizon=30), after=1.0, resolved=False)
    assert "did not resolve" in one(decide(pilot, sim), "revert").reason
    pilot, sim = _changed(Bounds(horizon=30), after=math.nan)
    assert "not finite" in one(decide(pilot, sim), "revert").reason


def test_a_change_that_worked_is_held_and_said() -> None:
    pilot, sim = _changed(Bounds(horizon=30), after=1.0)
    d = one(decide(pilot, sim), "held")
    assert d.reason == "÷10 held: median loss 2 before, 1 at the end of 30 points"
    assert d.command is None
    assert d.request().op == "note"


def test_a_recovered_blowup_is_held_although_its_mean_after_the_change_is_higher() -> None:
    """Measured on a real run (tests/session/test_pilot_driver.py): the change lands ~13
    steps after the finding, at the peak; the loss then falls ×4 a step. Means over 25
    points said 1.1e9 → 7.2e9 (worse); where the change left the run says it recovered."""
    pilot, sim = Autopilot(Bounds(horizon=25)), Sim(findings=[finding()])
    sim.advance(100, 0.1)
    sim.loss[-12:] = [0.1 * 2.25**k for k in range(1, 13)]
    d = one(decide(pilot, sim), "change")
    pilot.answered(d, True, sim.ack(d))
    peak = 0.1 * 2.25**13
    sim.advance(25)
    sim.loss[-25:] = [max(0.1, peak * 0.25**k) for k in range(25)]
    sim.findings = [replace(f, resolved=True) for f in sim.findings]
    before, after = np.mean(sim.loss[-50:-25]), np.mean(sim.loss[-25:])
    assert after > before  # the mean would revert it
    assert one(decide(pilot, sim), "held").reason.startswith("÷10 held: median loss")


def test_a_revert_stays_under_the_ceiling() -> None:
    pilot, sim = _changed(Bounds(horizon=30), after=3.0)
    sim.lrs = [0.05]  # the schedule raised it since: ×10 would cross 1× the first LR
    d = one(decide(pilot, sim), "revert")
    assert d.command is not None and d.command.new == pytest.approx([0.1])
    assert d.reason.endswith("(clamped to the ceiling, 1× the first LR)")
    pilot, sim = _changed(Bounds(horizon=30), after=3.0)
    sim.lrs = [0.1]
    assert one(decide(pilot, sim), "skip").reason.startswith("no revert: the LR is at its ceiling")


def test_on_fail_stop_stops_for_that_run_for_good() -> None:
    pilot, sim = _changed(Bounds(horizon=30, on_fail="stop"), after=3.0)
    d = one(decide(pilot, sim), "stop")
    assert d.describe().startswith("autopilot stopped on run a (divergence since step 100): ")
    assert pilot.stopped("a").startswith("the loss got worse")
    sim.findings.append(finding(sim.step))
    sim.advance(500)
    assert decide(pilot, sim) == []


def test_rewind_for_divergence_when_allowed_and_a_snapshot_precedes_the_onset() -> None:
    bounds = Bounds(actions=frozenset({"decrease", "rewind"}), horizon=10)
    sim = Sim(findings=[finding(120)], snapshots=(50, 100, 150))
    sim.advance(160, 1.0)
    pilot = Autopilot(bounds)
    d = one(decide(pilot, sim), "rewind")
    req = d.request()
    assert req.op == "rewind" and req.args["to_step"] == 100 and req.args["scale_lr"] == 0.1
    assert req.args["by"] == "autopilot" and req.args["mode"] == "rescale"
    assert d.describe(NOW) == (
        "autopilot: rewind to step 100, ÷10 on run a (divergence since step 120) in 5 s"
    )
    reply = sim.ack(d)
    pilot.answered(d, True, reply)
    sim.steps += range(101, 106)
    sim.loss += [9.0] * 5
    assert decide(pilot, sim) == []  # the new branch is shorter than the horizon
    sim.steps += range(106, 111)
    sim.loss += [9.0] * 5
    stop = one(decide(pilot, sim), "stop")  # worse, and a rewind cannot be reverted
    assert "rewind to step 100" in stop.reason


def test_a_rewind_is_judged_on_a_store_that_cut_the_abandoned_branch() -> None:
    """The store drops a rewind's abandoned points from the live series when the record
    arrives (lrwatch/branches.py): no step goes back, and the outcome is still judged."""
    bounds = Bounds(actions=frozenset({"decrease", "rewind"}), horizon=10)
    sim = Sim(findings=[finding(120)], snapshots=(50, 100, 150))
    sim.advance(160, 1.0)
    pilot = Autopilot(bounds)
    d = one(decide(pilot, sim), "rewind")
    pilot.answered(d, True, sim.ack(d))
    # What the store keeps: the live branch up to the snapshot, then the new one.
    keep = [i for i, s in enumerate(sim.steps) if s <= 100]
    sim.steps = [sim.steps[i] for i in keep]
    sim.loss = [sim.loss[i] for i in keep]
    sim.findings = [finding(120, resolved=True)]
    sim.advance(5, 0.5)
    assert decide(pilot, sim) == []  # the new branch is shorter than the horizon
    sim.advance(10, 0.5)
    held = one(decide(pilot, sim), "held")  # better, and the finding resolved: it worked
    assert "rewind to step 100" in held.reason


def test_no_rewind_without_a_snapshot_before_the_onset_or_for_other_symptoms() -> None:
    bounds = Bounds(actions=frozenset({"decrease", "rewind"}))
    sim = Sim(findings=[finding(120)], snapshots=(150,))
    sim.advance(160)
    assert one(decide(Autopilot(bounds), sim), "change").command is not None
    sim = Sim(findings=[finding(120, "loss_spike")], snapshots=(50,))
    sim.advance(160)
    assert one(decide(Autopilot(bounds), sim), "change").kind == "change"
    sim = Sim(findings=[finding(120)], snapshots=(50,))
    sim.advance(160)
    assert one(decide(Autopilot(), sim), "change").kind == "change"  # rewind not allowed


def test_a_refusal_is_noted_counts_against_nothing_and_is_not_retried() -> None:
    pilot, sim = Autopilot(Bounds(max_changes=1)), Sim(findings=[finding()])
    sim.advance(120)
    d = one(decide(pilot, sim), "change")
    err = {"ok": False, "error": {"code": "out_of_range", "message": "factor too small"}}
    note = one(pilot.answered(d, False, err), "skip")
    assert note.reason == "refused: out_of_range: factor too small"
    assert decide(pilot, sim) == []
    sim.findings.append(finding(130))
    assert one(decide(pilot, sim), "change").finding == "a:divergence@130"  # max 1: unused


def test_a_cancelled_change_is_noted_and_not_retried() -> None:
    pilot, sim = Autopilot(), Sim(findings=[finding()])
    sim.advance(120)
    d = one(decide(pilot, sim), "change")
    assert one(pilot.cancel(d), "skip").reason == "cancelled by a person"
    assert decide(pilot, sim) == []


def test_a_restarted_autopilot_reads_its_own_changes_from_the_log() -> None:
    sim = Sim(findings=[finding(300)])
    sim.advance(340)
    sim.changes = [
        ChangeRecord("lr_change", 100, "autopilot", "a:divergence@90", "divergence: ÷10"),
        ChangeRecord("lr_change", 150, "unix"),  # a person's: not counted
        ChangeRecord("lr_change", 260, "autopilot", "a:divergence@90", "revert: worse"),
    ]
    pilot = Autopilot(Bounds(max_changes=2, min_steps=100))
    assert one(decide(pilot, sim), "skip").reason.startswith("waits: 80 steps")
    sim.advance(30)
    assert one(decide(pilot, sim), "change").finding == "a:divergence@300"
    pilot = Autopilot(Bounds(max_changes=1, min_steps=0))
    assert one(decide(pilot, sim), "skip").reason == "made the most changes (1)"


def test_nothing_for_an_ended_run_or_an_unknown_lr() -> None:
    sim = Sim(findings=[finding()], ended=True)
    sim.advance(120)
    assert decide(Autopilot(), sim) == []
    sim = Sim(findings=[finding()], lrs=[], first=[])
    sim.advance(120)
    assert one(decide(Autopilot(), sim), "skip").reason.startswith("the run's LR is not known")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"actions": frozenset({"explode"})},
        {"on_fail": "panic"},
        {"floor": 2.0, "ceiling": 1.0},
        {"floor": 0.0},
        {"horizon": 0},
        {"max_changes": -1},
    ],
)
def test_bounds_refuse_nonsense(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Bounds(**kwargs)


def test_pilot_view_reads_a_runs_tail_lrs_changes_and_snapshots() -> None:
    store = MetricStore()
    recs: list[Any] = [Event("run", {"lr": [0.2, 0.02]}, None, 1.0)]
    recs += [
        Metrics(s, {"loss": 1.0 / s, "lr": 0.1, "lr/pg1": 0.01}, float(s)) for s in range(1, 1001)
    ]
    recs.append(Event("lr_change", {"by": "autopilot", "finding": "f", "reason": "r"}, 900, 2.0))
    recs.append(Event("note", {"text": "x"}, 901, 2.0))
    store.add("a", recs)
    with store.view(["a"]) as (run,):
        v = pilot_view(run, [finding()], {"snapshots": [200, 100, True, "x"]}, horizon=200)
    assert len(v.loss) == 800 and v.steps[0] == 201 and v.last_step == 1000
    assert v.lrs == [0.1, 0.01] and v.first_lrs == [0.2, 0.02] and v.snapshots == (100, 200)
    assert v.changes == (ChangeRecord("lr_change", 900, "autopilot", "f", "r"),)
    assert v.is_open("a:divergence@100") and not v.ended


def test_split_finds_a_change_by_step_and_a_rewind_by_its_new_branch() -> None:
    steps = np.array([1, 2, 3, 4, 5, 6, 3, 4, 5])
    assert split_at(steps, 5) == 8  # on the current branch (after the rewind to 2)
    assert split_at(steps, 2, rewind=True) == 6
    assert split_at(steps[:6], 2, rewind=True) is None  # the new branch has not begun
