"""lrwatch.train.system (real psutil, the real nvidia-ml-py API), the console tee and the
rendezvous line, in this process."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from lrwatch.train import system
from lrwatch.train.console import ConsoleCapture, console_path
from lrwatch.train.rendezvous import announce
from lrwatch.train.system import ProcessProbe, SystemSampler, sample_cuda_alloc, sample_gpus
from tests.control.ctlhelp import wait_for

#: Every pynvml name lrwatch.train.system calls.
NVML_API = (
    "nvmlInit",
    "nvmlDeviceGetCount",
    "nvmlDeviceGetHandleByIndex",
    "nvmlDeviceGetHandleByUUID",
    "nvmlDeviceGetUtilizationRates",
    "nvmlDeviceGetMemoryInfo",
    "nvmlDeviceGetTemperature",
    "nvmlDeviceGetPowerUsage",
    "NVML_TEMPERATURE_GPU",
    "NVMLError",
)


def test_process_probe_real_numbers() -> None:
    hog = bytearray(64 << 20)  # 64 MiB touched: RSS must show it
    hog[::4096] = b"x" * len(hog[::4096])
    probe = ProcessProbe()
    sum(i * i for i in range(300_000))  # some CPU between the marks
    s = probe.sample()
    assert s["rss_mb"] >= 64 and s["host_mem_total_mb"] > s["host_mem_used_mb"] > 0
    assert s["cpu_percent"] >= 0 and 0 <= s["host_cpu_percent"] <= 100
    del hog


def test_gpu_sampling_against_the_real_nvml_api() -> None:
    import pynvml  # nvidia-ml-py: the lrwatch[gpu] extra, in the test extra too

    missing = [name for name in NVML_API if not hasattr(pynvml, name)]
    assert missing == []
    gpus = sample_gpus()
    try:
        pynvml.nvmlDeviceGetCount()
        has_gpu = True
    except pynvml.NVMLError:
        has_gpu = False
    if has_gpu:  # a GPU machine: real numbers for device 0
        assert 0 <= gpus["gpu0/util"] <= 100 and gpus["gpu0/mem_total_mb"] > 0
        assert 0 <= gpus["gpu0/mem_used_mb"] <= gpus["gpu0/mem_total_mb"]
    else:  # here: NVML cannot start; no fields, the failure kept once
        assert gpus == {} and sample_gpus() == {}
        assert system.nvml_error() is not None and "NVML" in system.nvml_error()  # type: ignore[operator]


def test_no_pynvml_package_leaves_gpu_fields_out(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['pynvml'] = None\n"  # what Python does for a missing module
        "from lrwatch.train.system import sample_gpus, nvml_error\n"
        "print(sample_gpus(), nvml_error())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("{} ModuleNotFoundError")


def test_cuda_alloc_absent_without_cuda() -> None:
    import torch

    assert not torch.cuda.is_initialized()
    assert sample_cuda_alloc() == {}


def test_sampler_writes_stops_and_swallows_errors() -> None:
    got: list[dict[str, Any]] = []
    reports: list[tuple[str, str]] = []
    step = [0]
    sampler = SystemSampler(0.02, got.append, lambda: step[0], lambda *a: reports.append(a))
    sampler.start()
    step[0] = 41
    wait_for(lambda: len(got) >= 3, 30)
    sampler.close()
    assert not sampler._thread.is_alive()
    rec = got[-1]
    assert rec["kind"] == "system" and rec["step"] == 41 and rec["rss_mb"] > 0
    assert list(rec)[:3] == ["kind", "step", "t"]
    assert sampler.errors == 0 and reports == []  # the thread is gone

    def broken(record: dict[str, Any]) -> None:
        raise OSError("disk on fire")

    sampler = SystemSampler(0.02, broken, lambda: 1, lambda *a: reports.append(a)).start()
    wait_for(lambda: sampler.errors >= 3, 30)  # it goes on after each failure
    sampler.close()
    assert reports == [("system_error", "system metrics: OSError: disk on fire")]


def test_console_capture_tees_and_restores(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        cap = ConsoleCapture(console_path(tmp_path / "r.jsonl"), interval=0.01).start()
        print("to stdout")
        t = threading.Thread(target=lambda: print("from a thread", file=sys.stderr))
        t.start()
        t.join()
        assert sys.stdout.isatty() is False and sys.stdout.encoding == out.encoding
        wait_for(lambda: "from a thread" in cap.path.read_text(), 30)
        cap.close()
        assert sys.stdout is out and sys.stderr is err
        print("after close")
    finally:
        sys.stdout, sys.stderr = saved
    assert cap.path == tmp_path / "r.console"
    assert cap.path.read_text() == "to stdout\nfrom a thread\n"
    assert out.getvalue() == "to stdout\nafter close\n" and err.getvalue() == "from a thread\n"


def test_a_forked_child_never_waits_on_the_capture(tmp_path: Path) -> None:
    """A DataLoader worker forked while another thread held the capture's lock prints
    (to the stream only) and exits instead of blocking forever."""
    cap = ConsoleCapture(tmp_path / "f.console").start()
    held, release = threading.Event(), threading.Event()

    def hold() -> None:  # as the flusher thread may hold the lock at the moment of the fork
        with cap._lock:
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(30)
    pid = os.fork()
    if pid == 0:
        print("from the child", flush=True)
        os._exit(0)
    release.set()
    holder.join()
    try:
        done = wait_for(lambda: (w := os.waitpid(pid, os.WNOHANG))[0] == pid and w, 30)
    except AssertionError:
        os.kill(pid, 9)
        raise
    finally:
        cap.close()
    assert os.waitstatus_to_exitcode(done[1]) == 0
    assert "from the child" not in cap.path.read_text()


def test_console_capture_unwritable_leaves_streams_alone(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    before = sys.stdout
    cap = ConsoleCapture(blocker / "sub" / "x.console").start()
    assert not cap.active and sys.stdout is before
    cap.close()


def test_announce_appends_one_line_and_never_raises(tmp_path: Path) -> None:
    rv = tmp_path / "rv"
    assert announce(str(rv), "runs/a.jsonl", "a") and announce(str(rv), "b.jsonl", "b", "b.console")
    first, second = (json.loads(line) for line in rv.read_text().splitlines())
    assert first == {
        "log": os.path.abspath("runs/a.jsonl"),
        "run": "a",
        "pid": os.getpid(),
        "console": None,
    }
    assert second["console"] == os.path.abspath("b.console")
    assert not announce(None, "a.jsonl", "a")
    assert not announce(str(tmp_path / "missing" / "rv"), "a.jsonl", "a")
