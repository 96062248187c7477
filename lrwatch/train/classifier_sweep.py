"""The LR range test on a classifier trained with SGD + momentum: the torch half of
``lrwatch find-lr``.

It lives in ``train`` so that the command module never imports torch (only ``train``,
``integrations`` and ``demos`` do, and ``train`` lazily): the command builds the demo network
and batches with :mod:`lrwatch.demos.base` and hands them over as a callable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from lrwatch.train.finder import LRFinderResult, find_lr

#: Builds ``(model, batches)``: a ``torch.nn.Module`` and ``(inputs, class labels)`` batches.
Problem = Callable[[], tuple[Any, Iterable[Any]]]


def sgd_classifier_sweep(
    problem: Problem,
    *,
    lr: float = 0.01,
    momentum: float = 0.9,
    threads: int = 1,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_iter: int = 100,
    smooth: float = 0.98,
    diverge: float = 4.0,
) -> LRFinderResult:
    """:func:`~lrwatch.train.finder.find_lr` on what ``problem()`` builds, with SGD
    (``lr``, ``momentum``) and cross-entropy.

    torch runs on ``threads`` threads, set before ``problem`` is called so that the data, the
    model and the sweep are the same on every machine. Raises ValueError on bad sweep
    arguments (see :func:`~lrwatch.train.finder.find_lr`).
    """
    import torch

    torch.set_num_threads(threads)
    model, data = problem()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    loss_fn = torch.nn.functional.cross_entropy
    return find_lr(model, opt, loss_fn, data, start_lr, end_lr, num_iter, smooth, diverge)
