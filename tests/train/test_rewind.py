"""``rewind`` applied by a real Monitor at a step boundary, on real torch training.

Requests are validated by the protocol module and queued with ``Monitor.submit``, the path a
socket request takes after the server thread (the socket itself: tests/control/).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

import lrwatch
from lrwatch.control import protocol as P
from lrwatch.train.snapshots import Rewind, cpu_copy


class Run:
    """A small AdamW run (BatchNorm buffers, dropout drawing from the RNG) with a Monitor."""

    def __init__(self, tmp: Path, name: str, sched: str = "lambda", **kwargs: Any) -> None:
        torch.manual_seed(0)
        self.model = torch.nn.Sequential(
            torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Dropout(0.2),
            torch.nn.Linear(8, 1),
        )  # fmt: skip
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=0.01)
        self.sched = _scheduler(sched, self.opt)
        self.log = tmp / f"{name}.jsonl"
        self.mon = lrwatch.Monitor(
            self.opt, self.sched, log=self.log, control="none", model=self.model, **kwargs
        )
        self.replies: list[dict[str, Any]] = []

    def steps(self, n: int, before: Callable[[], None] | None = None) -> None:
        for _ in range(n):
            loss = self.model(torch.randn(16, 4)).pow(2).mean()
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            self.sched.step()
            if before is not None:
                before()
            self.mon.step(loss=loss)

    def ask(self, **req: Any) -> dict[str, Any]:
        """Queue a rewind; the next step boundary answers it (returned)."""
        request = P.validate({"id": len(self.replies) + 1, "op": "rewind", **req}, self.mon.limits)
        assert self.mon.submit(request, self.replies.append, "test")
        n = len(self.replies)
        self.steps(1)
        assert len(self.replies) == n + 1
        return self.replies[-1]

    def records(self) -> list[dict[str, Any]]:
        self.mon.close()
        return [json.loads(line) for line in self.log.read_text().splitlines()]


def _scheduler(name: str, opt: torch.optim.Optimizer) -> Any:
    if name == "lambda":  # HF's linear warmup then decay
        return torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min((s + 1) / 10, max(0.0, (100 - s) / 90))
        )
    return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=200)


def _state(run: Run) -> list[Any]:
    return [cpu_copy(run.model.state_dict()), cpu_copy(run.opt.state_dict()), torch.get_rng_state()]


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _metrics(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Metric records split into branches at each rewind record."""
    branches: list[list[dict[str, Any]]] = [[]]
    for r in records:
        if r.get("kind") == "rewind":
            branches.append([])
        elif "kind" not in r:
            branches[-1].append(r)
    return branches


def test_rewind_restores_the_snapshot_bitwise_and_the_rng_goes_on_from_it(tmp_path: Path) -> None:
    run = Run(tmp_path, "run", snapshot_every=5, keep=3)
    saved: dict[int, list[Any]] = {}
    run.steps(10, before=lambda: None)
    saved[10] = _state(run)  # what the step-10 snapshot must hold
    run.steps(3)
    reply = run.ask(to_step=12)  # the newest snapshot at or before 12: step 10
    assert reply["ok"], reply
    assert reply["step"] == 14 and reply["to_step"] == 10 and reply["source"] == "snapshot"
    assert _equal(_state(run), saved[10])  # params, BatchNorm buffers, AdamW state, RNG
    assert run.mon.last_rewind is not None and run.mon.last_rewind.to_step == 10
    assert run.mon.snapshot_steps == [5, 10]  # no snapshot of the abandoned branch survives
    run.steps(4)
    first, second = _metrics(run.records())
    # Same state and RNG (these batches come from the torch RNG): steps 11.. replay bitwise.
    assert [r["step"] for r in second] == [11, 12, 13, 14]
    assert [r["loss"] for r in second] == [r["loss"] for r in first[10:14]]


@pytest.mark.parametrize("sched", ["lambda", "onecycle"])
def test_after_a_scaled_rewind_the_schedule_is_re_anchored(tmp_path: Path, sched: str) -> None:
    ref = Run(tmp_path, "ref", sched)
    ref.steps(60)
    want = {r["step"]: r["lr"] for r in _metrics(ref.records())[0]}
    run = Run(tmp_path, "run", sched, snapshot_every=10)
    run.steps(34)
    reply = run.ask(steps_back=5, scale_lr=0.1)  # at 35: back to 30
    assert reply["ok"] and reply["to_step"] == 30 and reply["factor"] == 0.1
    assert reply["mode"] == "rescale"
    assert reply["new"] == [pytest.approx(0.1 * want[31], rel=1e-12)]
    run.steps(29)
    first, second = _metrics(run.records())
    assert [r["lr"] for r in first] == [want[s] for s in range(1, 36)]
    assert [r["step"] for r in second] == list(range(31, 60))
    for r in second:  # LR(to_step + k) = factor × the LR the schedule gave there the first time
        assert math.isclose(r["lr"], 0.1 * want[r["step"]], rel_tol=1e-12), r


def test_the_hook_restores_from_its_own_checkpoint(tmp_path: Path) -> None:
    seen: list[Rewind] = []
    ckpt = tmp_path / "ckpt.pt"

    def on_rewind(rw: Rewind) -> int:
        seen.append(rw)
        state = torch.load(ckpt)
        run.model.load_state_dict(state["model"])
        run.opt.load_state_dict(state["opt"])
        run.sched.load_state_dict(state["sched"])
        return int(state["step"])

    run = Run(tmp_path, "run", on_rewind=on_rewind)
    run.steps(8)
    state = {"model": run.model.state_dict(), "opt": run.opt.state_dict()}
    torch.save({**state, "sched": run.sched.state_dict(), "step": 8}, ckpt)
    want = _state(run)[:2]
    run.steps(4)
    reply = run.ask(steps_back=3, scale_lr=0.5)
    assert reply["ok"] and reply["source"] == "hook" and reply["to_step"] == 8
    assert reply["step"] == 13 and reply["factor"] == 0.5
    assert len(seen) == 1 and (seen[0].from_step, seen[0].target) == (13, 10)
    assert seen[0].snapshot is None and seen[0].to_step == 8
    got = _state(run)[:2]
    assert _equal(got[0], want[0])
    assert _equal(got[1]["state"], want[1]["state"])
    assert run.opt.param_groups[0]["lr"] == pytest.approx(0.5 * want[1]["param_groups"][0]["lr"])
    run.steps(1)
    recs = run.records()
    assert next(r for r in recs if r.get("kind") == "rewind")["source"] == "hook"
    assert _metrics(recs)[1][0]["step"] == 9


def test_a_hook_that_returns_none_falls_back_to_the_snapshot(tmp_path: Path) -> None:
    calls: list[Rewind] = []
    run = Run(tmp_path, "run", snapshot_every=4, on_rewind=lambda rw: calls.append(rw))
    run.steps(9)
    reply = run.ask(steps_back=1)
    assert reply["ok"] and reply["source"] == "snapshot" and reply["to_step"] == 8
    assert calls[0].snapshot is not None and calls[0].snapshot.step == 8
    assert reply["factor"] is None and reply["mode"] is None


def _refused(run: Run, **req: Any) -> dict[str, Any]:
    reply = run.ask(**req)
    assert not reply["ok"], reply
    return reply["error"]


def test_refusals_change_nothing(tmp_path: Path) -> None:
    def broken(rw: Rewind) -> int:
        raise OSError("checkpoint dir gone")

    run = Run(tmp_path, "run", snapshot_every=10, keep=1)
    run.steps(4)
    err = _refused(run, steps_back=2)
    assert err["code"] == "refused" and "no snapshot yet" in err["message"]
    run.steps(20)  # snapshots at 10 then 20 (keep=1: only 20)
    assert run.mon.snapshot_steps == [20]
    err = _refused(run, to_step=15)
    assert err["code"] == "refused" and "snapshots at steps: 20" in err["message"]
    assert _refused(run, to_step=10_000)["code"] == "out_of_range"
    assert _refused(run, steps_back=10_000)["code"] == "out_of_range"
    assert _refused(run, steps_back=1, scale_lr=500.0)["code"] == "out_of_range"  # ceiling
    hooked = Run(tmp_path, "hooked", on_rewind=broken)
    hooked.steps(3)
    err = _refused(hooked, steps_back=1)
    assert err["code"] == "refused" and "OSError: checkpoint dir gone" in err["message"]
    off = Run(tmp_path, "off")
    off.steps(2)
    err = _refused(off, steps_back=1)
    assert err["code"] == "refused" and "snapshot_every" in err["message"]
    recs = run.records()
    assert not [r for r in recs + hooked.records() if r.get("kind") in ("rewind", "lr_change")]
    steps = [r["step"] for r in _metrics(recs)[0]]
    assert steps == list(range(1, 30))  # every refusal was a plain step


def test_refused_requests_leave_training_bitwise_identical(tmp_path: Path) -> None:
    twin = Run(tmp_path, "twin", snapshot_every=5)
    twin.steps(20)
    run = Run(tmp_path, "run", snapshot_every=5)
    run.steps(3)
    for req in ({"to_step": 50}, {"steps_back": 2}, {"steps_back": 99, "scale_lr": 0.1}):
        _refused(run, **req)
    run.steps(14)
    assert _equal(_state(run), _state(twin))
