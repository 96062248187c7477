"""The corpus: which runs to train, by scenario family.

Each family varies the task (MLP regression/classification, tiny CNN, tiny char transformer),
the optimizer, the schedule, the log interval (every step, every 10 steps as a mean, every 10
steps as the instantaneous loss), the loss scale and the seed. The intended symptom is only
the starting point of a label: ``labels.py`` checks in the logged values that the symptom is
really there and derives its onset, as a careful human labeller would.
"""

from __future__ import annotations

from typing import Any

from benchmarks.corpus_lib.trainer import RunSpec

# name, task, optimizer, lr, steps, extra fields
Row = tuple[str, str, str, float, int, dict[str, Any]]

HEALTHY: list[Row] = [
    ("reg-sgd", "mlp_reg", "sgd", 0.1, 800, {}),
    ("reg-sgd-log10", "mlp_reg", "sgd", 0.1, 3000, {"log_every": 10}),
    ("reg-momentum-cosine", "mlp_reg", "momentum", 0.02, 800, {"sched": "cosine"}),
    ("reg-adam-warmcos", "mlp_reg", "adam", 3e-3, 800, {"sched": "warmup_cosine"}),
    (
        "reg-adam-warmcos-log10",
        "mlp_reg",
        "adam",
        3e-3,
        3000,
        {"sched": "warmup_cosine", "log_every": 10},
    ),
    ("reg-adam-x30", "mlp_reg", "adam", 3e-3, 800, {"task_opts": {"target_scale": 30.0}}),
    (
        "reg-adam-x0.03-log10",
        "mlp_reg",
        "adam",
        3e-3,
        3000,
        {"log_every": 10, "task_opts": {"target_scale": 0.03}},
    ),
    ("reg-sgd-step", "mlp_reg", "sgd", 0.1, 900, {"sched": "step", "grad_norm": True}),
    ("reg-sgd-batch4", "mlp_reg", "sgd", 0.02, 800, {"batch": 4}),
    ("reg-adam-nolr", "mlp_reg", "adam", 3e-3, 800, {"log_lr": False, "val_every": 50}),
    ("reg-adam-restarts", "mlp_reg", "adam", 3e-3, 1200, {"sched": "restarts"}),
    ("cls-momentum-step", "mlp_cls", "momentum", 0.05, 900, {"sched": "step"}),
    (
        "cls-momentum-step-log10",
        "mlp_cls",
        "momentum",
        0.05,
        3000,
        {"sched": "step", "log_every": 10},
    ),
    ("cls-adam-restarts", "mlp_cls", "adam", 1e-3, 1200, {"sched": "restarts", "grad_norm": True}),
    (
        "cls-adam-restarts-log10",
        "mlp_cls",
        "adam",
        1e-3,
        3000,
        {"sched": "restarts", "log_every": 10},
    ),
    ("cls-adam-onecycle", "mlp_cls", "adam", 3e-3, 800, {"sched": "onecycle"}),
    ("cls-sgd-onecycle-log10", "mlp_cls", "sgd", 0.2, 3000, {"sched": "onecycle", "log_every": 10}),
    ("cls-sgd-batch4", "mlp_cls", "sgd", 0.05, 1000, {"batch": 4}),
    (
        "cls-sgd-batch4-inst10",
        "mlp_cls",
        "sgd",
        0.05,
        3000,
        {"batch": 4, "log_every": 10, "log_mean": False},
    ),
    ("cls-adamw-warmup-val", "mlp_cls", "adamw", 1e-3, 1000, {"sched": "warmup", "val_every": 50}),
    ("cls-sgd-clip", "mlp_cls", "sgd", 0.3, 800, {"clip": 1.0, "grad_norm": True}),
    ("cls-adam-const", "mlp_cls", "adam", 1e-3, 800, {}),
    ("cnn-adam-cosine", "cnn", "adam", 3e-3, 500, {"sched": "cosine"}),
    (
        "cnn-adam-inst10",
        "cnn",
        "adam",
        3e-3,
        1000,
        {"log_every": 10, "log_mean": False, "val_every": 100},
    ),
    (
        "cnn-momentum-warmcos",
        "cnn",
        "momentum",
        0.05,
        500,
        {"sched": "warmup_cosine", "grad_norm": True},
    ),
    ("cnn-sgd-batch8", "cnn", "sgd", 0.3, 500, {"batch": 8}),
    ("lm-adam-warmcos", "charlm", "adam", 3e-3, 300, {"sched": "warmup_cosine", "batch": 16}),
    (
        "lm-adam-log10",
        "charlm",
        "adam",
        1e-3,
        600,
        {"log_every": 10, "batch": 16, "val_every": 100},
    ),
]

TOO_HIGH: list[Row] = [
    ("reg-sgd-lr1", "mlp_reg", "sgd", 1.0, 300, {}),
    ("reg-sgd-lr3-log10", "mlp_reg", "sgd", 3.0, 300, {"log_every": 10}),
    ("reg-momentum-lr0.5", "mlp_reg", "momentum", 0.5, 300, {"grad_norm": True}),
    ("reg-sgd-lr0.2-x30", "mlp_reg", "sgd", 0.2, 300, {"task_opts": {"target_scale": 30.0}}),
    ("reg-adam-lr0.3", "mlp_reg", "adam", 0.3, 400, {}),
    ("cls-adam-lr0.5", "mlp_cls", "adam", 0.5, 400, {}),
    ("cls-adam-lr0.3-log10", "mlp_cls", "adam", 0.3, 1500, {"log_every": 10}),
    ("cls-adam-lr0.1", "mlp_cls", "adam", 0.1, 600, {"grad_norm": True}),
    ("cls-sgd-lr5", "mlp_cls", "sgd", 5.0, 400, {}),
    ("cls-momentum-lr2-warmup", "mlp_cls", "momentum", 2.0, 500, {"sched": "warmup"}),
    ("cnn-sgd-lr2", "cnn", "sgd", 2.0, 400, {}),
    ("cnn-adam-lr0.1", "cnn", "adam", 0.1, 400, {"grad_norm": True}),
    ("cnn-adam-lr0.1-inst10", "cnn", "adam", 0.1, 1000, {"log_every": 10, "log_mean": False}),
    ("lm-adam-lr0.1", "charlm", "adam", 0.1, 200, {"batch": 16}),
    ("cls-momentum-warmup-lr1", "mlp_cls", "momentum", 1.0, 600, {"sched": "warmup"}),
    (
        "cls-momentum-warmup-lr1-log10",
        "mlp_cls",
        "momentum",
        1.0,
        2000,
        {"sched": "warmup", "log_every": 10},
    ),
    ("cls-sgd-warmup-lr3", "mlp_cls", "sgd", 3.0, 600, {"sched": "warmup", "grad_norm": True}),
    ("cnn-momentum-warmup-lr1", "cnn", "momentum", 1.0, 400, {"sched": "warmup"}),
    ("lin-sgd-lr1.05", "linear_reg", "sgd", 1.05, 600, {"batch": 256}),
    ("lin-sgd-lr1.02-log10", "linear_reg", "sgd", 1.02, 3000, {"batch": 256, "log_every": 10}),
    # Added with the label review (2026-11-29): more runs that warm up into a too-high LR, so
    # that divergence recall rests on more than a handful of runs. All kept, whatever they did.
    ("reg-momentum-warmup-lr0.5", "mlp_reg", "momentum", 0.5, 600, {"sched": "warmup"}),
    (
        "reg-adam-warmup-lr0.1-log10",
        "mlp_reg",
        "adam",
        0.1,
        3000,
        {"sched": "warmup", "log_every": 10},
    ),
    (
        "cls-adamw-warmup-lr0.3",
        "mlp_cls",
        "adamw",
        0.3,
        600,
        {"sched": "warmup", "grad_norm": True},
    ),
    (
        "cls-sgd-warmup-lr3-inst10",
        "mlp_cls",
        "sgd",
        3.0,
        2000,
        {"sched": "warmup", "log_every": 10, "log_mean": False},
    ),
    ("cls-momentum-warmup-lr0.7", "mlp_cls", "momentum", 0.7, 600, {"sched": "warmup"}),
    ("cnn-sgd-warmup-lr3", "cnn", "sgd", 3.0, 400, {"sched": "warmup"}),
    (
        "cnn-momentum-warmup-lr1-batch8",
        "cnn",
        "momentum",
        1.0,
        400,
        {"sched": "warmup", "batch": 8},
    ),
    ("lm-adam-warmup-lr0.05", "charlm", "adam", 0.05, 300, {"sched": "warmup", "batch": 16}),
]

TOO_LOW: list[Row] = [
    ("reg-sgd-lr0.002", "mlp_reg", "sgd", 2e-3, 800, {}),
    ("reg-sgd-lr0.002-log10", "mlp_reg", "sgd", 2e-3, 3000, {"log_every": 10}),
    ("reg-adam-lr3e-5", "mlp_reg", "adam", 3e-5, 800, {"grad_norm": True}),
    ("reg-momentum-lr1e-5", "mlp_reg", "momentum", 1e-5, 800, {}),
    ("cls-adam-lr1e-5", "mlp_cls", "adam", 1e-5, 800, {}),
    ("cls-adam-lr1e-5-log10", "mlp_cls", "adam", 1e-5, 3000, {"log_every": 10}),
    ("cls-sgd-lr1e-3", "mlp_cls", "sgd", 1e-3, 1000, {"val_every": 50}),
    ("cls-sgd-lr1e-3-batch4", "mlp_cls", "sgd", 1e-3, 1000, {"batch": 4}),
    ("cnn-adam-lr3e-5", "cnn", "adam", 3e-5, 500, {}),
    ("cnn-sgd-lr1e-3-warmcos", "cnn", "sgd", 1e-3, 500, {"sched": "warmup_cosine"}),
    ("lm-adam-lr3e-5", "charlm", "adam", 3e-5, 300, {"batch": 16}),
]

OSCILLATION: list[Row] = [
    (f"reg-gd-lr{lr}-s{seed}", "mlp_reg", "sgd", lr, 600, {"batch": 4096, "seed": seed})
    for seed, lr in ((1, 0.55), (2, 0.55), (3, 0.55), (4, 0.55), (1, 0.54))
]

SPIKE: list[Row] = [
    ("reg-adam-shock", "mlp_reg", "adam", 3e-3, 800, {"shock": (400, 50.0, 3)}),
    (
        "reg-adam-shock-log10",
        "mlp_reg",
        "adam",
        3e-3,
        3000,
        {"shock": (1500, 50.0, 3), "log_every": 10},
    ),
    ("reg-sgd-shock", "mlp_reg", "sgd", 0.05, 800, {"shock": (500, 50.0, 2), "grad_norm": True}),
    ("cls-adam-shock", "mlp_cls", "adam", 1e-3, 800, {"shock": (450, 50.0, 3)}),
    (
        "cls-adam-shock-warmcos",
        "mlp_cls",
        "adam",
        1e-3,
        800,
        {"shock": (350, 50.0, 3), "sched": "warmup_cosine"},
    ),
    (
        "cls-momentum-shock-log10",
        "mlp_cls",
        "momentum",
        0.05,
        3000,
        {"shock": (1800, 50.0, 5), "log_every": 10},
    ),
    ("cnn-adam-shock", "cnn", "adam", 3e-3, 500, {"shock": (300, 50.0, 3)}),
    ("lm-adam-shock", "charlm", "adam", 1e-3, 300, {"shock": (200, 50.0, 3), "batch": 16}),
    (
        "reg-adam-shock-nolr",
        "mlp_reg",
        "adam",
        3e-3,
        800,
        {"shock": (450, 50.0, 3), "log_lr": False, "seed": 7},
    ),
    (
        "cls-adam-shock-nolr",
        "mlp_cls",
        "adam",
        1e-3,
        800,
        {"shock": (400, 50.0, 3), "log_lr": False},
    ),
    ("reg-adam-badbatch", "mlp_reg", "adam", 3e-3, 800, {"bad_batch": (420, 2)}),
    ("cls-adam-badbatch", "mlp_cls", "adam", 1e-3, 800, {"bad_batch": (500, 1)}),
    (
        "cls-sgd-badbatch-log10",
        "mlp_cls",
        "sgd",
        0.1,
        3000,
        {"bad_batch": (1500, 3), "log_every": 10},
    ),
    ("cnn-adam-badbatch", "cnn", "adam", 3e-3, 500, {"bad_batch": (320, 2), "grad_norm": True}),
    ("lm-adam-badbatch", "charlm", "adam", 1e-3, 300, {"bad_batch": (220, 2), "batch": 16}),
]

OVERFIT: list[Row] = [
    (
        "cls-tiny-adam-val10",
        "mlp_cls",
        "adam",
        3e-3,
        600,
        {"train_size": 48, "val_every": 10, "task_opts": {"hidden": 128, "label_noise": 0.2}},
    ),
    (
        "cls-tiny-adam-val25",
        "mlp_cls",
        "adam",
        1e-3,
        1000,
        {"train_size": 64, "val_every": 25, "task_opts": {"hidden": 128, "label_noise": 0.2}},
    ),
    (
        "cls-tiny-sgd-val20-log10",
        "mlp_cls",
        "momentum",
        0.05,
        2000,
        {
            "train_size": 64,
            "val_every": 20,
            "log_every": 10,
            "task_opts": {"hidden": 128, "label_noise": 0.3},
        },
    ),
    (
        "cls-tiny-warmcos-val10",
        "mlp_cls",
        "adam",
        3e-3,
        800,
        {
            "train_size": 48,
            "val_every": 10,
            "sched": "warmup_cosine",
            "task_opts": {"hidden": 128, "label_noise": 0.2},
        },
    ),
    (
        "reg-tiny-adam-val10",
        "mlp_reg",
        "adam",
        3e-3,
        800,
        {"train_size": 24, "val_every": 10, "task_opts": {"hidden": 128, "noise": 0.3}},
    ),
    (
        "reg-tiny-adam-val20-log10",
        "mlp_reg",
        "adam",
        3e-3,
        2000,
        {
            "train_size": 24,
            "val_every": 20,
            "log_every": 10,
            "task_opts": {"hidden": 128, "noise": 0.3},
        },
    ),
]

PLATEAU: list[Row] = [
    ("lin-adam-plateau", "linear_reg", "adam", 1e-2, 900, {}),
    ("lin-adam-plateau-log10", "linear_reg", "adam", 1e-2, 4000, {"log_every": 10}),
    ("lin-sgd-plateau", "linear_reg", "sgd", 0.05, 900, {"seed": 2}),
    ("lin-sgd-plateau-batch128", "linear_reg", "sgd", 0.05, 900, {"batch": 128, "seed": 3}),
    ("cls-narrow-adam-plateau", "mlp_cls", "adam", 1e-2, 900, {"task_opts": {"hidden": 2}}),
    ("lin-adam-plateau-x30", "linear_reg", "adam", 0.3, 900, {"task_opts": {"target_scale": 30.0}}),
]

FAMILIES: dict[str, list[Row]] = {
    "healthy": HEALTHY,
    "too_high": TOO_HIGH,
    "too_low": TOO_LOW,
    "oscillation": OSCILLATION,
    "spike": SPIKE,
    "overfitting": OVERFIT,
    "plateau": PLATEAU,
}


def corpus_specs() -> list[RunSpec]:
    """Every run of the corpus; seeds differ per run so runs are not twins of each other."""
    specs = []
    for family, rows in FAMILIES.items():
        for i, (name, task, opt, lr, steps, extra) in enumerate(rows):
            extra = dict(extra)
            seed = extra.pop("seed", 100 * (1 + list(FAMILIES).index(family)) + i)
            specs.append(RunSpec(f"{family}--{name}", family, task, opt, lr, steps, seed, **extra))
    return specs
