"""System metrics for ``Monitor(system_every=...)``: the process, the host and NVIDIA GPUs.

A :class:`SystemSampler` runs in its own daemon thread and writes one ``system`` record every
``every`` seconds (docs/format.md), never from ``Monitor.step``: a sample costs a few hundred
microseconds of psutil and NVML calls, which a training step must not pay. Every failure is
swallowed and counted, and a field that cannot be read is simply absent from the record:
training never slows or dies for a thermometer.

- process and host: ``psutil`` (portable: Linux, macOS, Windows; /proc exists only on Linux).
- GPUs: ``nvidia-ml-py`` (module ``pynvml``, the ``lrwatch[gpu]`` extra). NVML is set up once
  per process; no package, no driver or no device leaves the ``gpu*`` fields out for good.
  NVML numbers the host's devices itself, ignoring ``CUDA_VISIBLE_DEVICES``; we honour it, so
  ``gpu0`` is the process's ``cuda:0``.
- ``cuda_max_alloc_mb``: ``torch.cuda.max_memory_allocated`` (the largest over the devices),
  read only when the program itself imported torch and initialised CUDA (never initialised
  here: that would create a CUDA context from a background thread).

Run ``python -c "from lrwatch.train.system import sample_gpus; print(sample_gpus())"`` on a
GPU machine to see what NVML gives.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

#: Bytes in the ``*_mb`` fields: MiB, as nvidia-smi and ``free -m`` count.
MIB = float(1 << 20)
#: What the NVML setup found: None until tried, then the device handles (empty: no GPUs).
_nvml: list[tuple[str, Any]] | None = None
_nvml_error: str | None = None
_nvml_lock = threading.Lock()


def _mb(n: float) -> float:
    return round(n / MIB, 1)


class ProcessProbe:
    """This process's CPU % and RSS and the host's memory, through psutil."""

    def __init__(self) -> None:
        import psutil

        self._psutil = psutil
        self._proc = psutil.Process()
        # cpu_percent() measures since its previous call: the first call only sets the mark.
        self._proc.cpu_percent(None)
        psutil.cpu_percent(None)

    def sample(self) -> dict[str, float]:
        """``cpu_percent`` (100 = one core busy), ``rss_mb``, ``host_cpu_percent`` (all
        cores, 0-100), ``host_mem_used_mb`` (total minus available: what the OS could not hand
        out now) and ``host_mem_total_mb``."""
        out: dict[str, float] = {}
        with self._proc.oneshot():
            out["cpu_percent"] = round(self._proc.cpu_percent(None), 1)
            out["rss_mb"] = _mb(self._proc.memory_info().rss)
        out["host_cpu_percent"] = round(self._psutil.cpu_percent(None), 1)
        mem = self._psutil.virtual_memory()
        out["host_mem_used_mb"] = _mb(mem.total - mem.available)
        out["host_mem_total_mb"] = _mb(mem.total)
        return out


def nvml_error() -> str | None:
    """Why there are no GPU fields (no ``pynvml``, NVML failed to start), or None."""
    return _nvml_error


def _nvml_devices() -> list[tuple[str, Any]]:
    """``[(name, handle)]`` of the devices this process sees; set up once per process."""
    global _nvml, _nvml_error
    with _nvml_lock:
        if _nvml is not None:
            return _nvml
        _nvml = []
        try:
            import pynvml

            pynvml.nvmlInit()
            _nvml = _visible(pynvml)
        except Exception as exc:  # no package, no driver (NVMLError_LibraryNotFound), ...
            _nvml_error = f"{type(exc).__name__}: {exc}"
        return _nvml


def _visible(pynvml: Any) -> list[tuple[str, Any]]:
    """The handles CUDA would number 0, 1, ... (``CUDA_VISIBLE_DEVICES``: indices or UUIDs)."""
    spec = os.environ.get("CUDA_VISIBLE_DEVICES")
    if spec is None:
        ids: list[str] = [str(i) for i in range(pynvml.nvmlDeviceGetCount())]
    else:
        ids = [s.strip() for s in spec.split(",") if s.strip()]
    out: list[tuple[str, Any]] = []
    for entry in ids:
        try:
            if entry.isdigit():
                handle = pynvml.nvmlDeviceGetHandleByIndex(int(entry))
            else:  # "GPU-8a4f..." (MIG instances are not sampled: NVML reports no util there)
                handle = pynvml.nvmlDeviceGetHandleByUUID(entry)
        except Exception:
            break  # CUDA, too, stops numbering at the first invalid entry ("-1" hides all)
        out.append((f"gpu{len(out)}", handle))
    return out


def sample_gpus() -> dict[str, float]:
    """Per visible NVIDIA GPU: ``gpuN/util`` (%), ``gpuN/mem_used_mb``, ``gpuN/mem_total_mb``,
    ``gpuN/temp_c``, ``gpuN/power_w``; empty without NVML. A value the device does not
    report (power on some boards) is left out alone."""
    devices = _nvml_devices()
    if not devices:
        return {}
    import pynvml

    out: dict[str, float] = {}
    for name, handle in devices:
        with contextlib.suppress(Exception):
            out[f"{name}/util"] = float(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
        with contextlib.suppress(Exception):
            mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
            out[f"{name}/mem_used_mb"] = _mb(mem.used)
            out[f"{name}/mem_total_mb"] = _mb(mem.total)
        with contextlib.suppress(Exception):
            temp = pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU)
            out[f"{name}/temp_c"] = float(temp)
        with contextlib.suppress(Exception):
            out[f"{name}/power_w"] = round(pynvml.nvmlDeviceGetPowerUsage(handle) / 1000.0, 1)
    return out


def sample_cuda_alloc() -> dict[str, float]:
    """``cuda_max_alloc_mb``: torch's peak allocated memory, the largest over the devices;
    empty unless the program's torch has initialised CUDA."""
    torch = sys.modules.get("torch")
    cuda = getattr(torch, "cuda", None)
    if cuda is None or not cuda.is_initialized():
        return {}
    # Allocator statistics are host-side bookkeeping: reading them creates no context.
    peak = max(cuda.max_memory_allocated(i) for i in range(cuda.device_count()))
    return {"cuda_max_alloc_mb": _mb(peak)}


class SystemSampler:
    """A daemon thread that writes a ``system`` record every ``every`` seconds.

    ``emit`` writes a record (the Monitor's log writer), ``step`` gives the last step counted,
    ``report(code, message)`` is told of the first failure (once; the rest are counted in
    :attr:`errors`).
    """

    def __init__(
        self,
        every: float,
        emit: Callable[[dict[str, Any]], None],
        step: Callable[[], int],
        report: Callable[[str, str], None] | None = None,
    ) -> None:
        self.every = max(float(every), 0.01)
        self.errors = 0  #: failed reads and writes, over the run
        self.samples = 0  #: records written
        self._emit, self._step, self._report = emit, step, report
        self._stop = threading.Event()
        self._probe: ProcessProbe | None = None
        self._thread = threading.Thread(target=self._loop, name="lrwatch-system", daemon=True)

    def start(self) -> SystemSampler:
        """Start sampling (the first record comes after one period: CPU % needs a span)."""
        self._thread.start()
        return self

    def close(self, timeout: float = 2.0) -> None:
        """Stop the thread (an NVML call in flight is waited for up to ``timeout`` s)."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def sample(self) -> dict[str, Any]:
        """One ``system`` record now (what could not be read is absent)."""
        record: dict[str, Any] = {"kind": "system", "step": 0, "t": round(time.time(), 3)}
        parts: list[Callable[[], dict[str, float]]] = [sample_gpus, sample_cuda_alloc]
        if self._probe is not None:
            parts.insert(0, self._probe.sample)
        for part in parts:
            try:
                record.update(part())
            except Exception as exc:
                self._failed(exc)
        # Read last, so the step is as fresh as the numbers (it may still trail the step of
        # a metric record written meanwhile: readers don't take it as the run's progress).
        record["step"] = self._step()
        return record

    def _loop(self) -> None:
        try:
            self._probe = ProcessProbe()
        except Exception as exc:  # psutil missing or refused: GPU fields may still come
            self._failed(exc)
        _nvml_devices()  # set NVML up now, not in the first period's sample
        while not self._stop.wait(self.every):
            try:
                self._emit(self.sample())
                self.samples += 1
            except Exception as exc:
                self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        self.errors += 1
        if self.errors == 1 and self._report is not None:
            with contextlib.suppress(Exception):
                self._report("system_error", f"system metrics: {type(exc).__name__}: {exc}")
