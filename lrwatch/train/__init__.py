"""The training-side hook: :class:`~lrwatch.train.monitor.Monitor` (log + control endpoint),
scheduler-safe LR changes (:mod:`~lrwatch.train.lr`), torch.distributed sync
(:mod:`~lrwatch.train.dist`) and the LR range test (:mod:`~lrwatch.train.finder`).

torch is imported lazily, only when an optimizer is attached: ``import lrwatch.train`` is cheap.
"""
