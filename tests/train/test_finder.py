"""find_lr: an exponential sweep that stops at divergence, suggests LRs, and restores state."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from lrwatch import find_lr
from lrwatch.train.finder import steepest_lr, valley_lr

torch.set_num_threads(1)


def _problem(seed: int = 0) -> tuple[nn.Module, list[tuple[torch.Tensor, torch.Tensor]]]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(512, 10, generator=g)
    y = (x @ torch.randn(10, 3, generator=g)).argmax(1)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 3))
    return model, [(x[i : i + 32], y[i : i + 32]) for i in range(0, 512, 32)]


def _optimizer_state_equal(a: dict, b: dict) -> bool:
    if a["param_groups"] != b["param_groups"] or a["state"].keys() != b["state"].keys():
        return False
    for k in a["state"]:
        sa, sb = a["state"][k], b["state"][k]
        if sa.keys() != sb.keys():
            return False
        for name in sa:
            va, vb = sa[name], sb[name]
            if torch.is_tensor(va):
                if not torch.equal(va, vb):
                    return False
            elif va != vb:
                return False
    return True


def test_model_optimizer_grads_and_rng_restored_bitwise() -> None:
    model, data = _problem()
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    # Give the optimizer real state and the params real gradients before the sweep.
    for xb, yb in data[:3]:
        opt.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        opt.step()
    model.eval()
    params = {k: v.clone() for k, v in model.state_dict().items()}
    grads = [p.grad.clone() for p in model.parameters()]
    opt_state = {
        "state": {
            k: {n: (t.clone() if torch.is_tensor(t) else t) for n, t in s.items()}
            for k, s in opt.state_dict()["state"].items()
        },
        "param_groups": [dict(g) for g in opt.state_dict()["param_groups"]],
    }
    rng = torch.get_rng_state()

    result = find_lr(model, opt, nn.functional.cross_entropy, data, num_iter=60)

    assert len(result.lrs) > 10
    for k, v in model.state_dict().items():
        assert torch.equal(v, params[k]), k
    for p, g in zip(model.parameters(), grads, strict=True):
        assert torch.equal(p.grad, g)
    assert _optimizer_state_equal(opt.state_dict(), opt_state)
    assert opt.param_groups[0]["lr"] == 3e-4
    assert not model.training
    assert torch.equal(torch.get_rng_state(), rng)


def test_sweep_is_exponential_stops_at_divergence_and_suggests_inside_the_range() -> None:
    model, data = _problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    result = find_lr(
        model, opt, nn.functional.cross_entropy, data, start_lr=1e-5, end_lr=100, num_iter=100
    )
    assert result.lrs[0] == pytest.approx(1e-5)
    ratios = [b / a for a, b in zip(result.lrs, result.lrs[1:], strict=False)]
    assert ratios == pytest.approx([10 ** (7 / 99)] * len(ratios))
    # LR 100 wrecks this model: the sweep must stop before the end, at the 4× line.
    assert result.diverged and len(result.lrs) < 100
    best = min(result.losses[:-1])
    assert result.losses[-1] > 4.0 * best or not math.isfinite(result.losses[-1])
    for lr in (result.steepest, result.valley):
        assert lr is not None and 1e-5 < lr < result.lrs[-1]
    # Both rules point below the LR at which the loss bottomed out.
    assert result.valley <= result.min_loss_lr


def test_smoothing_is_bias_corrected_ema() -> None:
    model, data = _problem(1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    result = find_lr(model, opt, nn.functional.cross_entropy, data, num_iter=20, smooth=0.9)
    avg = 0.0
    for i, raw in enumerate(result.raw_losses):
        avg = 0.9 * avg + 0.1 * raw
        assert result.losses[i] == pytest.approx(avg / (1 - 0.9 ** (i + 1)))
    assert result.losses[0] == pytest.approx(result.raw_losses[0])


def test_param_group_ratios_are_kept_during_the_sweep() -> None:
    model, data = _problem()
    seen: list[tuple[float, float]] = []
    opt = torch.optim.SGD(
        [
            {"params": model[0].parameters(), "lr": 0.1},
            {"params": model[3].parameters(), "lr": 0.01},
        ]
    )

    def record(i: int, lr: float, loss: float, smoothed: float) -> None:
        seen.append((opt.param_groups[0]["lr"], opt.param_groups[1]["lr"]))

    find_lr(model, opt, nn.functional.cross_entropy, data, num_iter=10, on_step=record)
    assert len(seen) == 10
    assert all(b == pytest.approx(a / 10) for a, b in seen)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]


def test_suggestion_rules_on_a_known_curve() -> None:
    # A loss that falls fastest (per decade) at index 50, then rises from index 70.
    lrs = [10 ** (-6 + 7 * i / 99) for i in range(100)]
    losses = [
        2.0 - math.tanh((i - 50) / 8) if i < 70 else 1.05 + 0.2 * (i - 70) for i in range(100)
    ]
    assert steepest_lr(lrs, losses, 100) == pytest.approx(lrs[50])
    # The longest decreasing run spans indices 10..69; fastai takes the point ~1/2 in
    # (start + int(len/3) + int(len/6)).
    v = valley_lr(lrs, losses, 100)
    assert lrs[35] <= v <= lrs[45]


def test_bad_arguments_raise() -> None:
    model, data = _problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError):
        find_lr(model, opt, nn.functional.cross_entropy, data, start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError):
        find_lr(model, opt, nn.functional.cross_entropy, data, num_iter=1)
