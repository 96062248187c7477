"""Rules over a run's system metrics (``sys/...``: ``Monitor(system_every=)``).

They judge the machine, not the model: wall time (the samples' ``t``), not points. The
engine hands them each ``system`` record (read as a Metrics record of ``sys/`` names) through
:meth:`SystemRule.on_system` and nothing else; no other rule sees those records.

- ``gpu_idle`` (info): the GPUs' mean utilisation stays below ``threshold`` (30%) for
  ``seconds`` (180) while the step advances: the GPU waits for data. A run that is not
  stepping (loading, evaluating, hung) is not this symptom.
- ``memory_pressure`` (warning): a GPU's memory or the host's is at least ``fraction`` (95%)
  used; resolves below ``fraction - margin``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from lrwatch.records import SYSTEM_PREFIX, gpu_of_util
from lrwatch.rules.base import Rule
from lrwatch.rules.config import GpuIdleConfig, MemoryPressureConfig
from lrwatch.rules.context import RunContext
from lrwatch.rules.reporter import Reporter

_GPU_MEM = re.compile(rf"^{re.escape(SYSTEM_PREFIX)}(gpu\d+)/mem_used_mb$")
_HOST_USED = SYSTEM_PREFIX + "host_mem_used_mb"
_HOST_TOTAL = SYSTEM_PREFIX + "host_mem_total_mb"


def fmt_seconds(s: float) -> str:
    """``200`` -> ``3m20s``; ``45`` -> ``45s``."""
    m, sec = divmod(round(s), 60)
    return f"{m}m{sec:02d}s" if m else f"{sec}s"


class SystemRule(Rule):
    """A rule over system samples; the engine calls only :meth:`on_system`."""

    def on_system(self, step: int, t: float | None, values: Mapping[str, float]) -> None:
        """One ``system`` sample: ``values`` by their ``sys/`` names, ``t`` its wall time."""


class GpuIdle(SystemRule):
    """GPU utilisation below a threshold for minutes while training steps: input-bound."""

    symptom = "gpu_idle"

    def __init__(self, ctx: RunContext, reporter: Reporter, config: GpuIdleConfig) -> None:
        super().__init__(ctx, reporter)
        self.cfg = config
        self._since: float | None = None  # t of the first sample of the idle stretch
        self._since_step = 0
        self._sum = 0.0
        self._n = 0

    def on_system(self, step: int, t: float | None, values: Mapping[str, float]) -> None:
        utils = [x for k, x in values.items() if gpu_of_util(k) and x == x]
        if not utils or t is None:
            return
        util = sum(utils) / len(utils)
        if util >= self.cfg.threshold:
            self._since = None
            self.reporter.resolve(step, f"GPU utilisation is back to {util:.0f}%")
            return
        if self._since is None or t < self._since:
            self._since, self._since_step, self._sum, self._n = t, step, 0.0, 0
        self._sum += util
        self._n += 1
        seconds = t - self._since
        steps = step - self._since_step
        if seconds >= self.cfg.seconds and steps > 0:
            self._report(step, seconds, steps, len(utils))

    def _report(self, step: int, seconds: float, steps: int, gpus: int) -> None:
        mean = self._sum / self._n
        which = "GPU" if gpus == 1 else f"{gpus} GPUs"
        self.reporter.report(
            step,
            "info",
            self._since_step,
            evidence={
                "mean_util": round(mean, 1),
                "seconds": round(seconds, 1),
                "steps": steps,
                "samples": self._n,
                "gpus": gpus,
                "threshold": self.cfg.threshold,
            },
            message=(
                f"GPU idle: input pipeline may be the bottleneck ({which} {mean:.0f}% busy "
                f"on average for {fmt_seconds(seconds)} while {steps} steps ran)."
            ),
            suggestion=(
                "Feed the GPU faster: more DataLoader workers (num_workers), pin_memory=True, "
                "a larger prefetch_factor; move preprocessing off the training loop."
            ),
            confidence=min(0.9, 0.5 + 0.1 * seconds / self.cfg.seconds),
        )


class MemoryPressure(SystemRule):
    """A GPU's or the host's memory used up to near its total: an OOM is close."""

    symptom = "memory_pressure"

    def __init__(self, ctx: RunContext, reporter: Reporter, config: MemoryPressureConfig) -> None:
        super().__init__(ctx, reporter)
        self.cfg = config

    def on_system(self, step: int, t: float | None, values: Mapping[str, float]) -> None:
        used = _memory(values)
        if not used:
            return
        worst = max(used.values(), key=lambda ut: ut[0] / ut[1])
        frac = worst[0] / worst[1]
        if frac >= self.cfg.fraction:
            self._report(step, used, values)
        elif frac < self.cfg.fraction - self.cfg.margin:
            self.reporter.resolve(step, f"memory use is down to {frac:.0%}")

    def _report(
        self, step: int, used: dict[str, tuple[float, float]], values: Mapping[str, float]
    ) -> None:
        full = {k: ut for k, ut in used.items() if ut[0] / ut[1] >= self.cfg.fraction}
        evidence: dict[str, object] = {
            f"{k}_mem": f"{u / 1024:.1f}/{tot / 1024:.1f} GiB ({u / tot:.0%})"
            for k, (u, tot) in used.items()
        }
        alloc = values.get(SYSTEM_PREFIX + "cuda_max_alloc_mb")
        if alloc is not None:
            evidence["cuda_max_alloc_gib"] = round(alloc / 1024, 2)
        evidence["fraction"] = self.cfg.fraction
        names = ", ".join(f"{k} {u / tot:.0%}" for k, (u, tot) in full.items())
        if "host" in full:
            fix = "fewer DataLoader workers or a smaller prefetch, a dataset read lazily"
        else:
            fix = (
                "a smaller batch with gradient accumulation, activation checkpointing or "
                "mixed precision (PyTorch's cache counts as used: compare cuda_max_alloc)"
            )
        self.reporter.report(
            step,
            "warning",
            evidence=evidence,
            message=f"Memory near its limit: {names} used.",
            suggestion=f"An out-of-memory crash is close: {fix}.",
            confidence=0.7,
        )


def _memory(values: Mapping[str, float]) -> dict[str, tuple[float, float]]:
    """``{"gpu0": (used, total), "host": (used, total)}`` in MiB, where both are known."""
    out: dict[str, tuple[float, float]] = {}
    for key, used in values.items():
        m = _GPU_MEM.match(key)
        if m is not None:
            total = values.get(f"{SYSTEM_PREFIX}{m.group(1)}/mem_total_mb")
            if total and total > 0 and used == used:
                out[m.group(1)] = (used, total)
    host_used, host_total = values.get(_HOST_USED), values.get(_HOST_TOTAL)
    if host_used is not None and host_total and host_total > 0 and host_used == host_used:
        out["host"] = (host_used, host_total)
    return out
