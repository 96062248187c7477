"""Monitor in a real separate process: system records (real psutil), total_steps and meta,
the rendezvous file ``lrwatch run`` reads, and the captured console with a real traceback."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from lrwatch.sources import read_runs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "control"))
from ctlhelp import env, records

#: A training loop that runs until its own log holds ``want`` system records (a condition
#: with a deadline, not a fixed sleep), then finishes or raises.
SCRIPT = """
import json, sys, time
from pathlib import Path
import torch
import lrwatch

log = Path(sys.argv[1])
kw = json.loads(sys.argv[2])
want = kw.pop("want_system", 0)
crash = kw.pop("crash", False)
model = torch.nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
mon = lrwatch.Monitor(opt, log=log, control="none", **kw)
print("hello from the training script", flush=True)
deadline = time.monotonic() + 60
step = 0
while True:
    loss = model(torch.randn(8, 4)).pow(2).mean()
    opt.zero_grad(); loss.backward(); opt.step()
    step += 1
    mon.step(loss=loss)
    if step == 5:
        mon.set_total_steps(500)
    text = mon.log_path.read_text() if mon.log_path.exists() else ""
    if step >= 10 and text.count('"kind":"system"') >= want:
        break
    if time.monotonic() > deadline:
        sys.exit("no system records in time")
    time.sleep(0.01)  # a step of real work
if crash:
    raise RuntimeError("boom at step %d" % step)
mon.close()
"""


def run_child(
    tmp: Path, log: Path, extra_env: dict[str, str] | None = None, **kw: Any
) -> subprocess.CompletedProcess[str]:
    script = tmp / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    e = env()
    e.pop("LRWATCH_RENDEZVOUS", None)
    e.update(extra_env or {})
    cmd = [sys.executable, str(script), str(log), json.dumps(kw)]
    return subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=120, cwd=tmp)


def test_system_records_real_psutil_read_back_as_sys_series(tmp_path: Path) -> None:
    log = tmp_path / "runs" / "sysrun.jsonl"
    done = run_child(tmp_path, log, system_every=0.2, want_system=3)
    assert done.returncode == 0, done.stderr
    recs = records(log)
    system = [r for r in recs if r.get("kind") == "system"]
    assert len(system) >= 3
    first = system[0]
    assert first["rss_mb"] > 0 and first["host_mem_total_mb"] > 0
    assert 0 < first["host_mem_used_mb"] < first["host_mem_total_mb"]
    assert first["cpu_percent"] >= 0 and isinstance(first["step"], int)
    assert not any(k.startswith("gpu") for k in first)  # no GPU here: the fields are absent
    assert recs[-1]["kind"] == "end"  # and no system record after it
    store = read_runs([str(log)])
    (run,) = store.runs.values()
    assert {"sys/cpu_percent", "sys/rss_mb", "sys/host_mem_total_mb"} <= set(run.series)
    assert run.loss_choice.startswith("loss")
    rss = run.series["sys/rss_mb"]
    assert len(rss) == len(system)


def test_total_steps_in_header_and_meta_record(tmp_path: Path) -> None:
    log = tmp_path / "total.jsonl"
    done = run_child(tmp_path, log, total_steps=1000)
    assert done.returncode == 0, done.stderr
    recs = records(log)
    assert recs[0]["kind"] == "run" and recs[0]["total_steps"] == 1000
    (meta,) = [r for r in recs if r.get("kind") == "meta"]
    assert meta["total_steps"] == 500 and meta["step"] == 5 and meta["t"] > 0
    (run,) = read_runs([str(log)]).runs.values()
    assert run.header is not None and run.header["total_steps"] == 1000
    (ev,) = [e for e in run.events if e.kind == "meta"]
    assert ev.data["total_steps"] == 500 and ev.step == 5


def test_rendezvous_names_the_real_log_whatever_log_says(tmp_path: Path) -> None:
    rv = tmp_path / "rendezvous"
    log = tmp_path / "runs" / "exp1.jsonl"
    wrong = tmp_path / "runs" / "train.jsonl"  # what lrwatch run would have guessed
    done = run_child(tmp_path, log, {"LRWATCH_RENDEZVOUS": str(rv), "LRWATCH_LOG": str(wrong)})
    assert done.returncode == 0, done.stderr
    (line,) = rv.read_text().splitlines()
    said = json.loads(line)
    assert said["log"] == str(log.absolute()) and said["run"] == "exp1"
    assert said["console"] is None and isinstance(said["pid"], int) and said["pid"] > 0
    assert records(log)[0]["pid"] == said["pid"]
    assert not wrong.exists()


def test_capture_holds_prints_and_the_traceback(tmp_path: Path) -> None:
    rv = tmp_path / "rendezvous"
    log = tmp_path / "runs" / "crashy.jsonl"
    done = run_child(
        tmp_path, log, {"LRWATCH_RENDEZVOUS": str(rv)}, capture_output=True, crash=True
    )
    assert done.returncode == 1
    # The streams still reach where they went before (here: our pipes).
    assert "hello from the training script" in done.stdout
    assert "RuntimeError: boom" in done.stderr
    console = tmp_path / "runs" / "crashy.console"
    text = console.read_text()
    assert "hello from the training script" in text
    assert "Traceback (most recent call last)" in text and "RuntimeError: boom at step" in text
    recs = records(log)
    assert recs[0]["console"] == str(console.absolute())
    assert recs[-1]["kind"] == "end" and recs[-1]["status"] == "crashed"
    assert json.loads(rv.read_text())["console"] == str(console.absolute())
