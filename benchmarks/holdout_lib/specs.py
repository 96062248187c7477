"""The holdout corpus: which programs to run, by family.

Tuned LRs (the "twin" runs) come from a small sweep on each task, done once by hand when
the corpus was built (best second-half loss; docs/rules-quality.md): logistic regression SGD
0.1 (batch 4-64), SGD + momentum 0.01 and Adam 0.01; teacher MLP Adam 1e-3; char transformer
SGD (clip 1.0) 1.0. Every oscillation run gets a twin at the tuned LR with the same task, batch, seed,
logger and log interval; twins are healthy runs of the corpus.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from benchmarks.holdout_lib.spec import HSpec

LOGREG = {"flip": 0.05}
TUNED = {("logreg", "sgd"): 0.1, ("logreg", "momentum"): 0.01, ("logreg", "adam"): 0.01,
         ("teacher", "adam"): 1e-3,
         ("markov", "sgd"): 1.0}  # fmt: skip


def _s(name: str, family: str, intent: str, logger: str, task: str, opt: str, lr: float,
       steps: int, **kw: Any) -> HSpec:  # fmt: skip
    return HSpec(name, family, intent, logger, task, opt, lr, steps, **kw)


def oscillation() -> list[HSpec]:
    """Mini-batch SGD / momentum / Adam at 3-20x the tuned LR: swings, no net progress."""
    o, f = "oscillation", "osc"
    # fmt: off
    return [
        _s("osc-logreg-sgd-b8-lr0.6", o, f, "ptex", "logreg", "sgd", 0.6, 600, batch=8, task_opts=LOGREG),
        _s("osc-logreg-sgd-b16-lr1", o, f, "ptex", "logreg", "sgd", 1.0, 600, batch=16, task_opts=LOGREG),
        _s("osc-logreg-sgd-b16-lr1-s2", o, f, "ptex", "logreg", "sgd", 1.0, 600, batch=16, seed=2, task_opts=LOGREG),
        _s("osc-logreg-sgd-b8-lr1-s3", o, f, "ptex", "logreg", "sgd", 1.0, 600, batch=8, seed=3, task_opts=LOGREG),
        _s("osc-logreg-sgd-b16-lr1.5-s4", o, f, "ptex", "logreg", "sgd", 1.5, 600, batch=16, seed=4, task_opts=LOGREG),
        _s("osc-logreg-sgd-b32-lr2", o, f, "ptex", "logreg", "sgd", 2.0, 800, batch=32, task_opts=LOGREG),
        _s("osc-logreg-sgd-b64-lr2-s2-log5", o, f, "ptex", "logreg", "sgd", 2.0, 2000, batch=64, seed=2, log_every=5, task_opts=LOGREG),
        _s("osc-logreg-sgd-b4-lr1", o, f, "ptex", "logreg", "sgd", 1.0, 800, batch=4, task_opts=LOGREG),
        _s("osc-logreg-momentum-b16-lr0.1", o, f, "ptex", "logreg", "momentum", 0.1, 600, batch=16, task_opts=LOGREG),
        _s("osc-logreg-momentum-b8-lr0.1-s1", o, f, "ptex", "logreg", "momentum", 0.1, 600, batch=8, seed=1, task_opts=LOGREG),
        _s("osc-lm-sgd-clip-lr4.5", o, f, "nanogpt", "markov", "sgd", 4.5, 500, batch=16, clip=1.0),
        _s("osc-lm-sgd-clip-lr4.5-s1", o, f, "nanogpt", "markov", "sgd", 4.5, 500, batch=16, clip=1.0, seed=1),
        _s("osc-pl-logreg-sgd-lr2", o, f, "pl", "logreg", "sgd", 2.0, 600, batch=16, val_every=25, task_opts=LOGREG),
        _s("osc-pl-logreg-sgd-lr2-s2", o, f, "pl", "logreg", "sgd", 2.0, 600, batch=16, seed=2, val_every=25, task_opts=LOGREG),
        _s("osc-pl-logreg-sgd-lr2-log10-s1", o, f, "pl", "logreg", "sgd", 2.0, 2000, batch=16, seed=1, val_every=100, log_every=10, task_opts=LOGREG),
        _s("osc-pl-teacher-adam-lr0.05-log10", o, f, "pl", "teacher", "adam", 0.05, 1500, batch=32, val_every=50, log_every=10),
    ]
    # fmt: on


def twins(runs: list[HSpec]) -> list[HSpec]:
    """The same program at the tuned LR, one per (task, optimizer, batch, seed, logger,
    log interval); sets each run's ``twin``."""
    out: dict[str, HSpec] = {}
    for r in runs:
        lr = TUNED[(r.task, r.opt)]
        name = f"twin-{r.task}-{r.opt}-b{r.batch}-lr{lr:g}-s{r.seed}-{r.logger}-log{r.log_every}"
        out.setdefault(name, replace(r, name=name, family="healthy", intent="healthy", lr=lr,
                                     note="tuned twin"))  # fmt: skip
        r.twin = name
    return list(out.values())


def too_high_adam() -> list[HSpec]:
    """Adam 1e-2 .. 2e-1 on classifiers (MLP, CNN)."""
    h, f = "too_high_adam", "too_high"
    # fmt: off
    return [
        _s("adam-high-mlp-lr0.1", h, f, "ptex", "teacher", "adam", 0.1, 600),
        _s("adam-high-mlp-b16-lr0.1-s1", h, f, "ptex", "teacher", "adam", 0.1, 600, batch=16, seed=1),
        _s("adam-high-cnn-lr0.1", h, f, "ptex", "shapes", "adam", 0.1, 500),
        _s("adam-high-mlp-b64-lr0.2-log5", h, f, "ptex", "teacher", "adam", 0.2, 1000, batch=64, log_every=5),
        _s("adam-high-hf-mlp-lr0.1-log10", h, f, "hf", "teacher", "adam", 0.1, 1000, log_every=10, sched="const"),
        _s("adam-high-pl-mlp-lr0.1", h, f, "pl", "teacher", "adam", 0.1, 600),
    ]
    # fmt: on


def too_low() -> list[HSpec]:
    """AdamW 1e-6 through the HF Trainer, SGD 1e-4 through Lightning; logged every 1/10/50."""
    t, f = "too_low", "too_low"
    # fmt: off
    return [
        _s("low-hf-adamw-1e-6-log1", t, f, "hf", "teacher", "adamw", 1e-6, 300, sched="linear"),
        _s("low-hf-adamw-1e-6-log10", t, f, "hf", "teacher", "adamw", 1e-6, 1500, log_every=10, val_every=250, sched="linear"),
        _s("low-hf-adamw-1e-6-log50-const", t, f, "hf", "teacher", "adamw", 1e-6, 3000, log_every=50, sched="const"),
        _s("low-pl-sgd-1e-4-log1", t, f, "pl", "teacher", "sgd", 1e-4, 300),
        _s("low-pl-sgd-1e-4-log10", t, f, "pl", "teacher", "sgd", 1e-4, 1500, log_every=10, val_every=250),
        _s("low-pl-sgd-1e-4-log50", t, f, "pl", "shapes", "sgd", 1e-4, 3000, log_every=50),
        _s("low-nanogpt-adamw-1e-5", t, f, "nanogpt", "markov", "adamw", 1e-5, 400, batch=16, log_every=10),
    ]
    # fmt: on


def warmup_high() -> list[HSpec]:
    """Warmup into a too-high LR: nanoGPT-like (no per-step LR), a CNN warmed up to ~1000x."""
    w, f = "warmup_too_high", "warmup_high"
    ng = {"batch": 16, "sched": "warmup", "warmup": 10, "print_lr": False, "val_every": 100}
    # fmt: off
    return [
        _s("warm-nanogpt-lr0.3", w, f, "nanogpt", "markov", "adamw", 0.3, 400, **ng),
        _s("warm-nanogpt-lr1", w, f, "nanogpt", "markov", "adamw", 1.0, 400, **ng),
        _s("warm-nanogpt-lr3", w, f, "nanogpt", "markov", "adamw", 3.0, 400, **ng),
        _s("warm-nanogpt-lr1-s1-log10", w, f, "nanogpt", "markov", "adamw", 1.0, 600, seed=1, log_every=10, **{**ng, "val_every": 200}),
        _s("warm-cnn-sgd-lr100-ptex", w, f, "ptex", "shapes", "sgd", 100.0, 500, sched="warmup", warmup=300),
        _s("warm-cnn-sgd-lr100-pl", w, f, "pl", "shapes", "sgd", 100.0, 500, sched="warmup", warmup=300, seed=1),
        _s("warm-cnn-sgd-lr50-hf-log10", w, f, "hf", "shapes", "sgd", 50.0, 600, sched="warmup", warmup=400, log_every=10),
    ]
    # fmt: on


def never_learned() -> list[HSpec]:
    """Classifiers that sit at ln(K): killed early by a high LR, or trained on shuffled labels."""
    n = "never_learned"
    # fmt: off
    return [
        _s("stuck-pl-mlp-momentum-lr0.6", n, "stuck_high", "pl", "teacher", "momentum", 0.6, 600),
        _s("stuck-hf-mlp-momentum-lr1-cosine", n, "stuck_high", "hf", "teacher", "momentum", 1.0, 600, sched="cosine"),
        _s("stuck-cnn-adam-lr0.3", n, "stuck_high", "ptex", "shapes", "adam", 0.3, 500),
        _s("stuck-mlp-adam-lr0.2-cosine", n, "stuck_high", "nanogpt", "teacher", "adam", 0.2, 600, sched="cosine", print_lr=True),
        _s("shuffled-mlp-adam", n, "stuck_shuffled", "ptex", "teacher", "adam", 1e-3, 600, task_opts={"shuffle": True}),
        _s("shuffled-pl-mlp-sgd", n, "stuck_shuffled", "pl", "teacher", "momentum", 0.01, 600, task_opts={"shuffle": True}),
        _s("shuffled-hf-mlp-adamw-log10", n, "stuck_shuffled", "hf", "teacher", "adamw", 1e-3, 1500, log_every=10, task_opts={"shuffle": True}),
    ]
    # fmt: on


def healthy() -> list[HSpec]:
    """Healthy runs: heavy-tailed batch noise, one-cycle, warm restarts, step decay,
    fine-tunes, frequent noisy val, named eval sets, a long converged floor."""
    y, h, ft = "healthy", "healthy", "finetune"
    evals = {"eval_sets": 3}
    # fmt: off
    return [
        _s("ok-tnoise-sgd-heavy", y, h, "ptex", "tnoise", "sgd", 0.01, 800),
        _s("ok-pl-tnoise-adam-heavy", y, h, "pl", "tnoise", "adam", 3e-3, 800, batch=16),
        _s("ok-pl-mlp-sgd-onecycle", y, h, "pl", "teacher", "sgd", 0.2, 800, sched="onecycle"),
        _s("ok-cnn-adam-onecycle", y, h, "ptex", "shapes", "adam", 1e-2, 500, sched="onecycle"),
        _s("ok-pl-mlp-adam-restarts-log10", y, h, "pl", "teacher", "adam", 3e-3, 1500, sched="restarts", log_every=10),
        _s("ok-nanogpt-adamw-restarts", y, h, "nanogpt", "markov", "adamw", 3e-3, 450, batch=16, sched="restarts", print_lr=True, val_every=50),
        _s("ok-cnn-adadelta-steplr", y, h, "ptex", "shapes", "adadelta", 1.0, 600, batch=64, sched="epoch_step"),
        _s("ok-pl-mlp-momentum-step", y, h, "pl", "teacher", "momentum", 0.03, 900, sched="step"),
        _s("ok-hf-finetune-adamw-log10", y, ft, "hf", "teacher_ft", "adamw", 1e-4, 600, log_every=10, pretrain=600, val_every=50),
        _s("ok-pl-finetune-sgd", y, ft, "pl", "teacher_ft", "sgd", 0.01, 400, pretrain=600),
        _s("ok-finetune-adam", y, ft, "ptex", "teacher_ft", "adam", 3e-4, 400, pretrain=600, seed=1 ),
        _s("ok-pl-mlp-momentum-val10", y, h, "pl", "teacher", "momentum", 0.01, 800, batch=16, val_every=10, task_opts={"n_val": 128}),
        _s("ok-hf-mlp-adamw-val10", y, h, "hf", "teacher", "adamw", 1e-3, 500, val_every=10, task_opts={"n_val": 256}),
        _s("ok-hf-mlp-adamw-evals-log10", y, h, "hf", "teacher", "adamw", 1e-3, 1200, log_every=10, val_every=100, task_opts=evals),
        _s("ok-hf-mlp-adamw-evals-log1", y, h, "hf", "teacher", "adamw", 2e-3, 500, val_every=50, seed=1, task_opts=evals),
        _s("ok-pl-mlp-adam-evals", y, h, "pl", "teacher", "adam", 1e-3, 800, val_every=100, task_opts={"eval_sets": 2}),
        _s("ok-nanogpt-converged", y, h, "nanogpt", "markov", "adamw", 1e-2, 600, batch=16, val_every=100),
        _s("ok-logreg-converged", y, h, "ptex", "logreg", "adam", 0.01, 1000, batch=128, task_opts=LOGREG),
        _s("ok-hf-linear-default", y, h, "hf", "teacher", "adamw", 3e-3, 500, sched="linear"),
    ]
    # fmt: on


def overfitting() -> list[HSpec]:
    """Tiny training sets, wide models, noisy labels: every named val set rises."""
    v, f = "overfitting", "overfit"
    tiny = {"n_train": 48, "label_noise": 0.3, "width": 256, "eval_sets": 3}
    # fmt: off
    return [
        _s("overfit-hf-evals3-log10", v, f, "hf", "teacher", "adamw", 3e-3, 1000, batch=16, log_every=10, val_every=25, task_opts=tiny),
        _s("overfit-hf-evals3-log1-s1", v, f, "hf", "teacher", "adamw", 3e-3, 600, batch=16, val_every=20, seed=1, task_opts=tiny),
        _s("overfit-hf-evals2-momentum", v, f, "hf", "teacher", "momentum", 0.05, 800, batch=16, log_every=10, val_every=40, task_opts={**tiny, "eval_sets": 2}),
        _s("overfit-pl-evals2", v, f, "pl", "teacher", "adam", 3e-3, 800, batch=16, val_every=25, task_opts={**tiny, "eval_sets": 2}),
    ]
    # fmt: on


def holdout_specs() -> list[HSpec]:
    """Every program of the holdout corpus (twins included)."""
    osc = oscillation()
    return [*osc, *twins(osc), *too_high_adam(), *too_low(), *warmup_high(), *never_learned(),
            *healthy(), *overfitting()]  # fmt: skip
