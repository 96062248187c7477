"""Boundary applies a request's LRChange: the same replies and records on one rank and through
DistSync, and a set while the LR is 0 is refused rather than raised."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from lrwatch.control import protocol as P
from lrwatch.lrchange import LRChange
from lrwatch.train.boundary import Boundary
from lrwatch.train.dist import DistSync
from lrwatch.train.lr import LRController

LIMITS = P.Limits(lr_ceiling=1.0, n_groups=2)


def _boundary(lrs: list[float], synced: bool) -> tuple[Boundary, list[dict[str, Any]]]:
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
    opt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs, strict=True)])
    emitted: list[dict[str, Any]] = []
    b = Boundary(LIMITS, emitted.append, lambda: None)
    b.lr = LRController(opt)
    b.sync = DistSync() if synced else None  # one process: DistSync passes changes through
    return b, emitted


def _send(b: Boundary, line: str) -> dict[str, Any]:
    replies: list[dict[str, Any]] = []
    assert b.submit(P.parse_request(line, LIMITS), replies.append, "test")
    b.run(7, lambda: None)
    assert len(replies) == 1
    return replies[0]


@pytest.mark.parametrize("synced", [False, True])
def test_changes_apply_as_their_lr_change_says(synced: bool) -> None:
    b, emitted = _boundary([0.1, 0.04], synced)
    reply = _send(b, '{"id": 1, "op": "set_lr", "value": 0.2}')
    assert reply["ok"] and reply["step"] == 8 and (reply["op"], reply["mode"]) == ("set", "rescale")
    assert reply["new"] == pytest.approx(LRChange.set(0.2).apply([0.1, 0.04]))
    reply = _send(b, '{"id": 2, "op": "scale_lr", "factor": 0.5, "group": 1, "mode": "pin"}')
    assert (reply["op"], reply["mode"]) == ("scale", "pin")
    assert reply["new"] == pytest.approx(LRChange.scale(0.5, 1).apply(reply["old"]))
    reply = _send(b, '{"id": 3, "op": "unpin", "group": 1}')
    assert (reply["op"], reply["mode"]) == ("unpin", "unpin")
    assert reply["new"] == pytest.approx([0.2, 0.08])  # back to the re-anchored schedule
    assert [e["id"] for e in emitted if e["kind"] == "lr_change"] == [1, 2, 3]
    assert b.history == [{k: v for k, v in e.items() if k != "kind"} for e in emitted]


@pytest.mark.parametrize("synced", [False, True])
def test_refusals_change_nothing(synced: bool) -> None:
    b, emitted = _boundary([0.0, 0.5], synced)  # warmup from 0 in group 0
    reply = _send(b, '{"id": 1, "op": "set_lr", "value": 0.1}')
    assert reply["error"]["code"] == "refused" and "0.0" in reply["error"]["message"]
    reply = _send(b, '{"id": 2, "op": "scale_lr", "factor": 4, "group": 1}')
    assert reply["error"]["code"] == "out_of_range" and "group 1" in reply["error"]["message"]
    assert emitted == [] and b.lr.current() == [0.0, 0.5]
