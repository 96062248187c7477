"""The system rules (gpu_idle, memory_pressure) fed synthetic ``system`` samples through the
engine, as the JSONL reader gives them (``sys/`` metrics), between ordinary loss records."""

from __future__ import annotations

import json
import math

from lrwatch.formats.jsonl import JsonlParser
from lrwatch.records import SYSTEM_PREFIX, Metrics
from lrwatch.rules.config import RuleConfig
from lrwatch.rules.engine import Engine
from lrwatch.rules.finding import Finding

T0 = 1_800_000_000.0


def sample(step: int, t: float, **fields: float) -> Metrics:
    """A system record as the reader yields it."""
    return Metrics(step, {SYSTEM_PREFIX + k.replace("__", "/"): v for k, v in fields.items()}, t)


def gpu(
    step: int, t: float, util: float, used: float = 10_000.0, total: float = 81_559.0
) -> Metrics:
    return sample(step, t, gpu0__util=util, gpu0__mem_used_mb=used, gpu0__mem_total_mb=total)


def run(engine: Engine, samples: list[Metrics]) -> list[Finding]:
    """Feed each sample after a loss record at its step (training goes on meanwhile)."""
    changed: list[Finding] = []
    for s in samples:
        changed += engine.feed([Metrics(s.step, {"loss": 2.0 + 0.01 * math.sin(s.step)}, s.t)])
        changed += engine.feed([s])
    return changed


def open_of(engine: Engine, symptom: str) -> list[Finding]:
    return [f for f in engine.findings if f.symptom == symptom and not f.resolved]


def test_gpu_idle_after_three_minutes_of_wall_time_then_resolves() -> None:
    engine = Engine(run="r")
    # one sample every 10 s, 20% busy, one step per second
    idle = [gpu(10 * i, T0 + 10 * i, 20.0) for i in range(18)]  # 0 .. 170 s
    run(engine, idle)
    assert open_of(engine, "gpu_idle") == []  # 170 s < 180 s
    run(engine, [gpu(180, T0 + 180, 25.0)])
    (f,) = open_of(engine, "gpu_idle")
    assert f.severity == "info" and f.step == 0
    assert f.message.startswith("GPU idle: input pipeline may be the bottleneck")
    assert f.evidence["seconds"] == 180 and f.evidence["steps"] == 180
    assert math.isclose(f.evidence["mean_util"], (18 * 20 + 25) / 19, abs_tol=0.05)
    assert "num_workers" in f.suggestion and "pin_memory" in f.suggestion
    run(engine, [gpu(190, T0 + 190, 95.0)])
    assert open_of(engine, "gpu_idle") == []
    assert f.resolved and f.resolved_step == 190


def test_gpu_idle_needs_steps_and_a_whole_stretch() -> None:
    engine = Engine(run="r")
    # Not stepping (loading a dataset): the GPU idles but training is not input-bound.
    engine.feed([gpu(0, T0 + 10 * i, 0.0) for i in range(40)])
    assert open_of(engine, "gpu_idle") == []
    # A busy sample in the middle restarts the stretch.
    engine2 = Engine(run="r")
    samples = [gpu(10 * i, T0 + 10 * i, 5.0 if i != 10 else 80.0) for i in range(25)]
    run(engine2, samples)
    assert open_of(engine2, "gpu_idle") == []  # 110..240 s: 130 s idle


def test_no_gpu_fields_no_gpu_finding_and_config() -> None:
    engine = Engine(run="r")
    run(engine, [sample(i, T0 + 10 * i, cpu_percent=100.0, rss_mb=500.0) for i in range(100)])
    assert engine.findings == []
    cfg = RuleConfig.from_dict({"gpu_idle": {"threshold": 50, "seconds": 60}})
    engine = Engine(cfg, run="r")
    run(engine, [gpu(10 * i, T0 + 10 * i, 40.0) for i in range(7)])
    assert [f.symptom for f in open_of(engine, "gpu_idle")] == ["gpu_idle"]
    off = Engine(RuleConfig.from_dict({"gpu_idle": {"enabled": False}}), run="r")
    run(off, [gpu(10 * i, T0 + 10 * i, 0.0) for i in range(40)])
    assert off.findings == []


def test_memory_pressure_gpu_and_host() -> None:
    engine = Engine(run="r")
    run(engine, [gpu(1, T0, 50.0, used=70_000.0)])
    assert engine.findings == []
    run(engine, [gpu(2, T0 + 10, 90.0, used=79_000.0)])  # 96.9%
    (f,) = open_of(engine, "memory_pressure")
    assert f.severity == "warning" and "gpu0 97%" in f.message
    assert f.evidence["gpu0_mem"] == "77.1/79.6 GiB (97%)"
    run(engine, [gpu(3, T0 + 20, 90.0, used=77_800.0)])  # 95.4%: still open (hysteresis)
    assert open_of(engine, "memory_pressure") == [f]
    run(engine, [gpu(4, T0 + 30, 90.0, used=60_000.0)])
    assert f.resolved and f.resolved_step == 4
    host = sample(5, T0 + 40, host_mem_used_mb=31_500.0, host_mem_total_mb=32_000.0)
    run(engine, [host])
    (h,) = open_of(engine, "memory_pressure")
    assert "host 98%" in h.message and "DataLoader workers" in h.suggestion


def test_system_samples_are_not_progress() -> None:
    """A hung training loop whose sampler thread writes on: still stalled; and a system
    record with an older step (the sampler read it before a metric record was written) is
    not a restart of the run."""
    engine = Engine(run="r")
    engine.feed([Metrics(i, {"loss": 2.0}, T0 + i) for i in range(50)])
    before = engine._arrival
    engine.feed([sample(48, T0 + 60, cpu_percent=3.0)])
    assert engine._arrival == before and engine.step == 49
    stalled = engine.check_stalled(before + 1000) if before is not None else []
    assert [f.symptom for f in stalled] == ["stalled"]


def test_through_the_jsonl_reader() -> None:
    """The lines a Monitor writes, read by the real parser, drive the same findings."""
    lines = []
    for i in range(20):
        lines.append(json.dumps({"step": 10 * i, "t": T0 + 10 * i, "loss": 1.0}))
        rec = {"kind": "system", "step": 10 * i, "t": T0 + 10 * i, "cpu_percent": 99.0}
        rec |= {"gpu0/util": 3.0, "gpu0/mem_used_mb": 1000.0, "gpu0/mem_total_mb": 80000.0}
        lines.append(json.dumps(rec))
    parser = JsonlParser(blocks=True)
    records = parser.feed(("\n".join(lines) + "\n").encode())
    assert sum(isinstance(r, Metrics) and "sys/gpu0/util" in r.values for r in records) == 20
    engine = Engine(run="r")
    engine.feed(records)
    assert [f.symptom for f in open_of(engine, "gpu_idle")] == ["gpu_idle"]
