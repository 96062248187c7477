"""``lrwatch run`` finds the run wherever its Monitor logs, and shows the run's own output.

Real children (python scripts, the real ``lrwatch.Monitor`` and torch), started by the same
functions ``lrwatch run`` uses (``start``, ``make_app``) and driven with Textual's pilot; a
real socket for the LR change; ``attach`` to a socket a real process opens only later.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

from lrwatch.commands.run import make_app, paths_for, rendezvous_of, run_name, start, stop
from lrwatch.tui.app import LRWatchApp
from lrwatch.tui.messages import ControlReply
from lrwatch.tui.widgets.dialogs import ConfirmScreen
from tests.tui.helpers import until

TRAIN_TINY = Path(__file__).parent.parent / "tui" / "scripts" / "train_tiny.py"

#: The README's pattern: the script names its own log, far from where lrwatch run looks.
MONITOR_ELSEWHERE = """
import sys, time, torch, lrwatch
log, steps = sys.argv[1], int(sys.argv[2])
torch.manual_seed(0)
model = torch.nn.Linear(8, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.05)
x, y = torch.randn(256, 8), torch.randn(256, 1)
with lrwatch.Monitor(opt, log=log) as mon:
    for step in range(1, steps + 1):
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad(); loss.backward(); opt.step()
        mon.step(step, loss=loss.item())
        print(f"iter {step}: loss {loss.item():.4f}, time 20.00ms")
        time.sleep(0.02)
"""

#: No Monitor: only what it prints.
PRINTS_ONLY = """
import sys
for step in range(10, 410, 10):
    print(f"step {step} loss {2.3 * 0.99 ** step:.4f}")
print("finished")
"""

#: tqdm-style progress (carriage returns, on stderr), then a crash.
PROGRESS_THEN_CRASH = r"""
import sys
print("starting epoch 1", flush=True)
for i in range(0, 101, 5):
    sys.stderr.write(f"\repoch 1: {i:3d}%|" + "#" * (i // 5) + f"| {i}/100")
    sys.stderr.flush()
sys.stderr.write("\n")
for step in range(1, 31):
    print(f"step {step} loss {3.0 / step:.4f}", flush=True)
def forward():
    raise RuntimeError("CUDA error: device-side assert triggered")
forward()
"""


def _launch(tmp_path: Path, script: str, *argv: str) -> tuple[Any, Path, subprocess.Popen[bytes]]:
    """Write ``script`` to train.py and start it as ``lrwatch run -- python train.py argv``."""
    path = tmp_path / "train.py"
    path.write_text(script)
    cmd = [sys.executable, str(path), *argv]
    args = argparse.Namespace(
        dir=str(tmp_path / "runs"), name=None, fmt=None, rules=None, keep=False, cmd=["--", *cmd]
    )
    name = run_name(cmd)
    out, log = paths_for(args.dir, name)
    proc = start(cmd, out, log, name)
    return make_app(args, proc, out, log), out, proc


def _text(app: Any, selector: str) -> str:
    return str(app.query_one(selector).render().plain)


async def test_a_monitor_logging_elsewhere_is_found_shown_and_steered(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere" / "exp1.jsonl"
    app, out, proc = _launch(tmp_path, MONITOR_ELSEWHERE, str(elsewhere), "5000")
    replies: list[ControlReply] = []

    def hook(message: object) -> None:
        if isinstance(message, ControlReply):
            replies.append(message)

    try:
        async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
            await until(pilot, lambda: (r := app.current_run) is not None and r.name == "exp1", 90)
            assert app.current_run.path == str(elsewhere)
            assert rendezvous_of(paths_for(str(tmp_path / "runs"), "train")[1]).exists()
            # The child's output is the run's console now, not a second run without a loss.
            assert app.run_names == ["exp1"] and "train.console" in app.store.runs
            await until(
                pilot, lambda: "exp1" in _text(app, "#header") or "1/1" in _text(app, "#header")
            )
            await until(pilot, lambda: app.control_info("exp1").connected)
            await pilot.press("slash")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            await until(pilot, lambda: bool(replies))
            assert replies[0].ok, replies[0].error
            # Its console pane shows what it printed.
            await pilot.press("c")
            pane = app.console_w
            assert pane.source == str(out)
            await until(pilot, lambda: any("iter " in line for line in pane.view_w.lines))
            assert app.child_log == str(elsewhere)
    finally:
        stop(proc)


async def test_a_script_without_a_monitor_is_charted_from_its_output(tmp_path: Path) -> None:
    app, _, proc = _launch(tmp_path, PRINTS_ONLY)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: (r := app.current_run) is not None and r.last_step == 400)
            run = app.current_run
            assert run.name == "train.console" and app.run_names == ["train.console"]
            assert len(run.series["loss"]) == 40
            # Drawn (braille) once the chart's next refresh has the data: wait for it.
            await until(pilot, lambda: any(0x2800 < ord(c) <= 0x28FF for c in _text(app, "#loss")))
            await until(pilot, lambda: app.child_code == 0)
            assert not app.console_w.is_open  # a clean exit opens nothing
    finally:
        stop(proc)


async def test_a_crash_opens_the_console_at_the_traceback_and_search_finds_a_line(
    tmp_path: Path,
) -> None:
    app, _, proc = _launch(tmp_path, PROGRESS_THEN_CRASH)
    try:
        async with app.run_test(size=(100, 40)) as pilot:
            pane = app.console_w
            await until(
                pilot, lambda: pane.is_open and "RuntimeError" in "".join(pane.view_w.lines)
            )
            lines = pane.view_w.lines
            assert [line for line in lines if "epoch 1:" in line] == [
                "epoch 1: 100%|" + "#" * 20 + "| 100/100"
            ]
            tb = next(i for i, line in enumerate(lines) if line.startswith("Traceback"))
            # Scrolled to the traceback: its first line on screen, the error too.
            await until(pilot, lambda: pane.view_w.scroll_y > 0)
            top = round(pane.view_w.scroll_y)
            assert top <= tb < top + pane.view_w.size.height
            await until(pilot, lambda: "● crashed" in _text(app, "#header"))
            # ctrl+f: type, the matching line is marked and the title counts it.
            await pilot.press("ctrl+f")
            assert app.focused is pane.search_w
            await pilot.press(*"step 7 ")
            await until(pilot, lambda: pane.view_w.matches != [])
            assert [lines[i] for i in pane.view_w.matches] == ["step 7 loss 0.4286"]
            assert "search 'step 7 ': 1/1" in _text(app, "#console-title")
            await pilot.press("escape")
            assert not pane.search_w.display and app.focused is pane.view_w
            await pilot.press("c")
            assert not pane.is_open
    finally:
        stop(proc)
    assert proc.returncode == 1


async def test_attach_waits_for_a_socket_that_appears_later(tmp_path: Path) -> None:
    log = tmp_path / "tiny.jsonl"
    app = LRWatchApp(attach=f"unix:{log.with_suffix('.sock')}")
    proc: subprocess.Popen[bytes] | None = None
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: "waiting for unix:" in _text(app, "#status"))
            # The run starts only now (a real separate process importing torch).
            proc = subprocess.Popen([sys.executable, str(TRAIN_TINY), str(log), "3000", "0.02"])
            await until(pilot, lambda: "tiny" in app.store.runs, 90)
            await until(pilot, lambda: app.control_info("tiny").connected)
            assert "connected to unix:" in _text(app, "#status") or app.store.runs["tiny"].last_step
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
