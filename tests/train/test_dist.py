"""Two real gloo processes: every rank applies rank 0's LR changes at the same step.

This file is also the worker: ``python test_dist.py RANK WORLD INIT_FILE OUT`` trains a tiny
DDP model with an HF-style LambdaLR and writes what it saw as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

STEPS = 24
# What rank 0's control socket "received" before each step: (op, value, group, mode, tag).
REQUESTS: dict[int, tuple[Any, ...]] = {
    4: ("scale", 2.0, None, "rescale", "a"),
    5: ("set", 0.01, 0, "pin", "b"),
    12: ("unpin", 0.0, None, "pin", "c"),
    15: ("scale", 0.5, 1, "rescale", "d"),
}
# When each request lands (the same on every rank) for each sync period.
EXPECTED_STEPS = {1: [4, 5, 12, 15], 3: [9, 12, 15, 18]}


def worker(rank: int, world: int, init_file: str, out: str) -> None:
    """Run one rank: a DDP Linear model, SGD + LambdaLR, LR changes through DistSync."""
    import torch
    import torch.distributed as dist

    from lrwatch.train.dist import DistSync, apply_change
    from lrwatch.train.lr import LRController

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    result: dict[str, Any] = {}
    for every in EXPECTED_STEPS:
        torch.manual_seed(0)
        model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 1))
        params = list(model.parameters())
        opt = torch.optim.SGD(
            [{"params": params[:1], "lr": 0.1}, {"params": params[1:], "lr": 0.05}]
        )
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 5) * 0.97**s)
        ctl, sync = LRController(opt, sched), DistSync(every=every)
        data = torch.Generator().manual_seed(rank)  # each rank sees different data
        lrs, applied = [], []
        for step in range(STEPS):
            # Rank 1 "asks" too: only rank 0 decides, so this must be ignored.
            pending = REQUESTS.get(step) if rank == 0 else ("scale", 9.0, None, "rescale")
            change = sync.exchange(step, pending)
            if change is not None:
                apply_change(ctl, change)
                applied.append([change.step, change.op, change.value, change.group, change.tag])
            lrs.append(ctl.current())
            x = torch.randn(8, 4, generator=data)
            model(x).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
            sched.step()
        result[str(every)] = {
            "lrs": lrs,
            "applied": applied,
            "params": [p.detach().flatten().tolist() for p in params],
            "lost": sync.close(),
        }
    Path(out).write_text(json.dumps(result))
    dist.barrier()  # leave together (see test_monitor.dist_worker)
    dist.destroy_process_group()


def test_two_gloo_ranks_apply_the_same_change_at_the_same_step(tmp_path: Path):
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    init = tmp_path / "init"
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, str(r), "2", str(init), str(tmp_path / f"r{r}.json")],
            env=env,
        )
        for r in range(2)
    ]
    for p in procs:
        assert p.wait(timeout=240) == 0
    r0, r1 = (json.loads((tmp_path / f"r{r}.json").read_text()) for r in range(2))
    for every, steps in EXPECTED_STEPS.items():
        a, b = r0[str(every)], r1[str(every)]
        assert a["lrs"] == b["lrs"]  # identical LR history on both ranks
        assert a["params"] == b["params"]  # so DDP replicas stay bitwise identical
        assert [c[0] for c in a["applied"]] == [c[0] for c in b["applied"]] == steps
        assert [c[4] for c in a["applied"]] == ["a", "b", "c", "d"]  # tags stay on rank 0
        assert [c[4] for c in b["applied"]] == [None] * 4
        assert [c[1:4] for c in a["applied"]] == [c[1:4] for c in b["applied"]]
        assert a["lost"] == [] and b["lost"] == []
        pin_at, unpin_at, last = steps[1], steps[2], steps[3]
        assert all(lr[0] == 0.01 for lr in a["lrs"][pin_at:unpin_at])
        # After unpin the ×2 re-anchored schedule is back; group 1 later ×0.5 of that.
        assert a["lrs"][-1][1] == pytest.approx(a["lrs"][-1][0] * 0.5 * 0.05 / 0.1, rel=1e-12)
        assert a["lrs"][last - 1][1] == pytest.approx(a["lrs"][last - 1][0] * 0.05 / 0.1)


def test_single_process_passes_changes_through():
    from lrwatch.train.dist import DistSync

    sync = DistSync(every=4)
    assert not sync.active
    assert sync.exchange(0) is None
    got = sync.exchange(1, ("set", 0.5, 1, "pin", "t"))
    assert got is not None and (got.op, got.value, got.group, got.mode, got.step, got.tag) == (
        "set",
        0.5,
        1,
        "pin",
        1,
        "t",
    )


@pytest.mark.parametrize(
    "bad",
    [("scale", 2.0), ("jump", 2.0, None, "rescale"), ("scale", 2.0, -1, "rescale"), [1, 2, 3, 4]],
)
def test_malformed_requests_are_refused(bad: Any):
    from lrwatch.train.dist import DistSync

    with pytest.raises(ValueError):
        DistSync().exchange(0, bad)


if __name__ == "__main__":
    worker(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4])
