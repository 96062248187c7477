"""The corpus labeller (benchmarks/corpus_lib/labels.py): where a too-high-LR run's blow-up
starts, and whether it stayed up (divergence) or came back down (a spike). The labels are what
the rule engine is scored against, so their rules are tested like code, on seeded curves."""

from __future__ import annotations

import json

import numpy as np

from benchmarks.corpus_lib.labels import divergence_onset, label_run, level_points
from benchmarks.corpus_lib.trainer import RunSpec
from benchmarks.rules_corpus import logged_series


def too_high(loss: np.ndarray) -> dict:
    spec = RunSpec("t", "too_high", "mlp_cls", "adam", 0.1, len(loss), 0)
    steps = list(range(1, len(loss) + 1))
    return label_run(spec, {"steps": steps, "loss": [float(v) for v in loss]})


def noisy(level: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    return level * np.exp(sigma * np.random.default_rng(seed).standard_normal(len(level)))


def test_a_blow_up_that_stays_up_is_divergence_where_it_starts() -> None:
    level = np.concatenate([np.linspace(1.6, 0.5, 100), np.full(200, 2.0)])  # 4x its best
    label = too_high(noisy(level, 0.03))
    assert label["primary"] == "divergence"
    assert 100 <= label["expected"]["divergence"] <= 102  # step 101 is the first one up


def test_a_blow_up_that_came_back_below_its_best_is_a_spike_even_if_the_run_ends_high() -> None:
    # Up 7x at point 201, back below the old best from 261, and a burst of spikes in the
    # last tenth: the last points are high, but the loss did not stay up.
    level = np.concatenate([np.linspace(1.6, 0.02, 200), np.full(60, 0.15), np.full(140, 0.01)])
    level[-40::2] = 0.3
    label = too_high(noisy(level, 0.05))
    assert label["primary"] == "loss_spike" and 199 <= label["expected"]["loss_spike"] <= 202


def test_a_lone_excursion_of_a_noisy_level_is_not_a_blow_up() -> None:
    # Batch noise around a flat 0.65 after learning, and one cluster of 4 bad batches: the
    # 7-point median jumps for 4 points, then falls straight back.
    level = np.concatenate([np.linspace(1.6, 0.65, 50), np.full(550, 0.65)])
    loss = noisy(level, 0.3, seed=3)
    loss[400:404] = 3.0
    assert divergence_onset(list(range(600)), list(loss)) is None


def test_the_best_of_a_noisy_run_is_not_its_luckiest_low() -> None:
    # The level drifts from 0.6 to 0.9 under noise with sigma 0.45 in log: the lowest 7-point
    # median is far below 0.6 by chance alone, and 3x that lucky low is the run's own level.
    level = np.concatenate([np.linspace(1.6, 0.6, 50), np.linspace(0.6, 0.9, 550)])
    loss = noisy(level, 0.45, seed=5)
    assert level_points(list(loss)) > 7  # a wider level on a noisy run
    label = too_high(loss)
    assert label["excluded"] and "neither blew up nor stalled" in label["notes"]


def test_a_climb_cut_short_by_nan_is_still_divergence_before_the_nan() -> None:
    # 6 finite points up (steps 61-66), then NaN: fewer than a 7-point hold, and enough.
    level = np.concatenate([np.linspace(1.0, 0.4, 60), 0.4 * 4.0 ** np.arange(1, 7)])
    loss = list(noisy(level, 0.02)) + [float("nan")] * 10
    label = too_high(np.array(loss))
    assert label["primary"] == "nan_inf" and label["expected"]["nan_inf"] == 67
    assert label["expected"]["divergence"] == 61


def test_logged_series_reads_back_what_the_trainer_logged(tmp_path) -> None:
    lines = [
        {"kind": "run", "v": 1, "run": "t"},
        {"step": 1, "loss": 2.0, "lr": 0.1},
        {"step": 2, "loss": float("nan"), "lr": 0.1},
        {"step": 2, "val_loss": 1.5},
        {"kind": "end", "status": "crashed", "step": 2},
    ]
    log = tmp_path / "t.jsonl"
    log.write_text("\n".join(json.dumps(x) for x in lines) + "\n")  # NaN as json writes it
    out = logged_series(log)
    assert out["steps"] == [1, 2] and out["loss"][0] == 2.0 and out["loss"][1] != out["loss"][1]
    assert (out["val_steps"], out["val"], out["status"]) == ([2], [1.5], "crashed")
