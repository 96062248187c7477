"""Snapshots of a real torch run: copies that alias nothing, restored bitwise in place."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import lrwatch
from lrwatch.train.lr import LRController
from lrwatch.train.snapshots import Parts, cpu_copy, nbytes, restore, take


def _setup() -> tuple[torch.nn.Module, torch.optim.Optimizer, Any, LRController]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Dropout(0.2), torch.nn.Linear(8, 1)
    )
    opt = torch.optim.AdamW(model.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1 / (1 + s))
    return model, opt, sched, LRController(opt, sched)


def _train(model: torch.nn.Module, opt: torch.optim.Optimizer, sched: Any, n: int) -> None:
    for _ in range(n):
        loss = model(torch.randn(16, 4)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()


def _tensors(obj: Any) -> list[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in _tensors(v)]
    if isinstance(obj, list | tuple):
        return [t for v in obj for t in _tensors(v)]
    return []


def _same(a: Any, b: Any) -> bool:
    """Bitwise equal nested state (tensors with torch.equal, the rest with ==)."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def test_a_snapshot_aliases_no_live_tensor() -> None:
    model, opt, sched, lr = _setup()
    _train(model, opt, sched, 3)
    snap = take(3, Parts(model, opt, sched, lr))
    live = {t.data_ptr() for t in _tensors([model.state_dict(), opt.state_dict()])}
    assert not live & {t.data_ptr() for t in _tensors([snap.model, snap.optimizer])}
    want = sum(p.numel() * 4 * 3 for p in model.parameters())  # params + exp_avg + exp_avg_sq
    assert snap.nbytes >= want
    assert snap.nbytes == nbytes([snap.model, snap.params, snap.optimizer])


def test_restore_is_bitwise_in_place_and_keeps_the_snapshot_intact() -> None:
    model, opt, sched, lr = _setup()
    _train(model, opt, sched, 3)
    lr.scale(0.5, mode="pin")  # controller state is part of it
    parts = Parts(model, opt, sched, lr)
    random.seed(7)
    np.random.seed(7)
    snap = take(3, parts)
    want_model, want_opt = cpu_copy(model.state_dict()), cpu_copy(opt.state_dict())
    want_sched, want_lr = sched.state_dict(), lr.state_dict()
    draws = (torch.rand(3), random.random(), np.random.rand())
    ids = [id(p) for p in model.parameters()]
    for _ in range(2):  # twice: a restore must not let training write into the snapshot
        _train(model, opt, sched, 4)
        lr.unpin()
        restore(snap, parts)
        assert _same(model.state_dict(), want_model)  # parameters and BatchNorm buffers
        assert _same(opt.state_dict(), want_opt)
        assert sched.state_dict() == want_sched and lr.state_dict() == want_lr
        assert [id(p) for p in model.parameters()] == ids  # in place: the optimizer's own
        assert opt.param_groups[0]["params"][0] is next(model.parameters())
        assert _same((torch.rand(3), random.random(), np.random.rand()), draws)


def test_without_a_model_the_optimizer_params_are_kept() -> None:
    model, opt, sched, lr = _setup()
    _train(model, opt, sched, 2)
    parts = Parts(None, opt, sched, lr)
    snap = take(2, parts)
    assert snap.model is None and snap.params is not None
    want = [p.detach().clone() for p in model.parameters()]
    _train(model, opt, sched, 2)
    restore(snap, parts)
    assert all(torch.equal(p, w) for p, w in zip(model.parameters(), want, strict=True))


def test_monitor_keeps_the_newest_and_costs_nothing_when_off(tmp_path: Path) -> None:
    model, opt, sched, _ = _setup()
    on = lrwatch.Monitor(
        opt, sched, log=tmp_path / "on.jsonl", control="none", model=model,
        snapshot_every=3, keep=2,
    )  # fmt: skip
    for step in range(1, 11):
        _train(model, opt, sched, 1)
        on.step(loss=1.0)
        assert on.snapshot_steps == [s for s in (3, 6, 9) if s <= step][-2:]
    assert on.status()["snapshots"] == [6, 9]
    on.close()
    assert on.snapshot_steps == []  # freed at the end
    off = lrwatch.Monitor(opt, sched, log=tmp_path / "off.jsonl", control="none", model=model)
    off.step(loss=1.0)
    assert off.snapshot_steps == [] and off.status()["snapshots"] == []
    assert "rewind" not in off._boundary.answers  # off: no snapshot code runs at all
    off.close()


@pytest.mark.parametrize("kwargs", [{"snapshot_every": 0}, {"snapshot_every": 5, "keep": 0}])
def test_bad_settings_are_refused_at_construction(tmp_path: Path, kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        lrwatch.Monitor(log=tmp_path / "x.jsonl", control="none", **kwargs)
