"""``lrwatch demo [NAME]``: watch real PyTorch training show what learning rates do.

The demo's training runs as its own process (``python -m lrwatch.demos.run``) through the
public ``lrwatch.Monitor`` API, exactly like a user's job; this command opens the UI on its
logs, or with ``--headless`` prints its progress and the rule engine's findings and exits like
``lrwatch diagnose`` (0: nothing at ``--fail-on``, 1: something).
"""

from __future__ import annotations

import argparse
import glob
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from lrwatch.demos.registry import DEFAULT, SCENARIOS, Scenario


def register(subparsers: Any) -> None:
    """Add the ``demo`` subcommand."""
    p = subparsers.add_parser(
        "demo",
        help="built-in training demos: LR too high, too low, schedules, optimizers...",
        description="Run a built-in PyTorch demo (CPU) and watch it in the UI. "
        f"Without NAME: the '{DEFAULT}' demo. See --list.",
    )
    p.add_argument("name", nargs="?", default=None, metavar="NAME", help="demo to run")
    p.add_argument("--list", action="store_true", help="list the demos and what each shows")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--steps", type=int, default=None, help="training steps (default: per demo)")
    pace = p.add_mutually_exclusive_group()
    pace.add_argument("--pace", type=float, default=None, help="steps per second to show")
    pace.add_argument("--fast", action="store_true", help="no pacing (and fewer steps)")
    p.add_argument("--headless", action="store_true", help="no UI: progress and findings")
    p.add_argument("--log", default=None, metavar="PATH", help="keep the logs: DIR or FILE.jsonl")
    p.add_argument(
        "--fail-on",
        choices=("info", "warning", "error"),
        default="error",
        help="--headless exits 1 when a finding reaches this severity (default: error)",
    )
    p.set_defaults(func=run)


def list_text() -> str:
    """One line per demo: name, description, and the symptom it shows."""
    width = max(len(n) for n in SCENARIOS)
    lines = [
        f"{s.name:<{width}}  {s.description}\n{'':<{width}}  shows: {s.symptom}"
        for s in SCENARIOS.values()
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run the demo; see the module docstring for exit codes."""
    if args.list:
        print(list_text())
        return 0
    name = args.name or DEFAULT
    if name not in SCENARIOS:
        print(
            f"lrwatch demo: unknown demo {name!r}; known: {', '.join(SCENARIOS)}", file=sys.stderr
        )
        return 2
    scenario = SCENARIOS[name]
    if args.name is None:
        print(f"No demo named: running '{name}'. Others (lrwatch demo NAME):", ", ".join(SCENARIOS))
    tmp = None if args.log else Path(tempfile.mkdtemp(prefix="lrwatch-demo-"))
    target = Path(args.log) if args.log else tmp / "logs"  # type: ignore[operator]
    try:
        if args.headless:
            return _headless(scenario, args, target)
        return _with_ui(scenario, args, target)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def child_command(
    scenario: Scenario, args: argparse.Namespace, target: Path, progress: int
) -> list[str]:
    """The command line of the demo's training process."""
    steps = args.steps or (scenario.fast_steps if args.fast else scenario.steps)
    pace = 0.0 if args.fast else (scenario.pace if args.pace is None else args.pace)
    cmd = [sys.executable, "-m", "lrwatch.demos.run", scenario.name, "--log", str(target)]
    cmd += ["--seed", str(args.seed), "--steps", str(steps), "--pace", str(pace)]
    return [*cmd, "--progress", str(progress)]


def _headless(scenario: Scenario, args: argparse.Namespace, target: Path) -> int:
    from lrwatch.commands import diagnose
    from lrwatch.rules import load_config

    steps = args.steps or (scenario.fast_steps if args.fast else scenario.steps)
    cmd = child_command(scenario, args, target, progress=max(1, steps // 10))
    logs: list[str] = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, bufsize=1) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            print(line, end="", flush=True)
            if line.startswith("log "):
                logs.append(line.split(": ", 1)[1].strip())
    if proc.returncode != 0:
        print(f"lrwatch demo: the training process exited with {proc.returncode}", file=sys.stderr)
        return proc.returncode if proc.returncode > 0 else 1
    results = diagnose.diagnose_paths(logs, None, load_config(None))
    diagnose.render(results)
    return diagnose.FAILED if diagnose.failing(results, args.fail_on) else diagnose.OK


def _watch_paths(target: Path) -> list[str]:
    if target.suffix == ".jsonl":
        # One run logs to FILE.jsonl, several to FILE-<label>.jsonl: a glob covers both.
        return [str(target.with_name(f"{glob.escape(target.stem)}*.jsonl"))]
    target.mkdir(parents=True, exist_ok=True)
    return [str(target)]


def _with_ui(scenario: Scenario, args: argparse.Namespace, target: Path) -> int:
    from lrwatch.commands.run import stop
    from lrwatch.demos.runner import banner

    out = target.with_suffix(".out") if target.suffix else target.with_name(target.name + ".out")
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = _watch_paths(target)
    print(banner(scenario))
    with open(out, "ab") as fh:
        proc = subprocess.Popen(
            child_command(scenario, args, target, progress=0),
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        code = _open_ui(paths, proc, banner(scenario))
    finally:
        stop(proc)
    print(banner(scenario))
    if args.log:
        print(f"logs: {', '.join(paths)}  (training output: {out})")
    return code


def _open_ui(paths: list[str], proc: subprocess.Popen[bytes], text: str) -> int:
    """The UI on the demo's logs, with what the demo shows as a notification."""
    from lrwatch.tui import app as tui_app
    from lrwatch.tui.app import LRWatchApp

    class DemoApp(LRWatchApp):
        # Textual resolves a relative CSS_PATH next to the subclass's module: point at the app's.
        CSS_PATH = str(Path(tui_app.__file__).with_name("app.tcss"))

        def on_mount(self) -> None:
            super().on_mount()
            self.notify(text, title="lrwatch demo", timeout=30)

    app = DemoApp(paths=paths, child=proc)
    app.run()
    return int(app.return_code or 0)
