"""``lrwatch demo [NAME]``: watch real PyTorch training show what learning rates do.

The demo's training runs as its own process (``python -m lrwatch.demos.run``) through the
public ``lrwatch.Monitor`` API, exactly like a user's job; this command opens the UI on its
logs, or with ``--headless`` prints its progress and the rule engine's findings and exits like
``lrwatch diagnose`` (0: nothing at ``--fail-on``, 1: something).
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from lrwatch.commands._args import add_fail_on_argument
from lrwatch.commands._autopilot_args import add_autopilot_arguments, ui_bounds
from lrwatch.demos.registry import DEFAULT, SCENARIOS, Scenario


def register(subparsers: Any) -> None:
    """Add the ``demo`` subcommand."""
    p = subparsers.add_parser(
        "demo",
        help="built-in training demos: LR too high, too low, schedules, optimizers...",
        description="Run a built-in PyTorch demo (CPU) and watch it in the UI. "
        "Without NAME: a picker of the demos (in a terminal; otherwise the "
        f"'{DEFAULT}' demo). See --list.",
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
    # lrwatch serve started the demo's training, logging to DIR: one UI per browser tab on it.
    p.add_argument("--served", default=None, metavar="DIR", help=argparse.SUPPRESS)
    add_fail_on_argument(p, "--headless: ")
    add_autopilot_arguments(p, ui=True)
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
    if args.name is not None and args.name not in SCENARIOS:
        print(
            f"lrwatch demo: unknown demo {args.name!r}; known: {', '.join(SCENARIOS)}",
            file=sys.stderr,
        )
        return 2
    if args.name is None and not args.headless and sys.stdin.isatty() and sys.stdout.isatty():
        return _tour(args)
    name = args.name or DEFAULT
    if args.served:
        return _served(SCENARIOS[name], Path(args.served))
    if args.name is None:
        print(f"No demo named: running '{name}'. Others (lrwatch demo NAME):", ", ".join(SCENARIOS))
    return _one(SCENARIOS[name], args, quiet=False)


def _one(scenario: Scenario, args: argparse.Namespace, *, quiet: bool) -> int:
    """Run one demo (headless or in the UI) with its logs in --log or a temporary directory."""
    tmp = None if args.log else Path(tempfile.mkdtemp(prefix="lrwatch-demo-"))
    target = Path(args.log) if tmp is None else tmp / "logs"
    try:
        if args.headless:
            return _headless(scenario, args, target)
        return _with_ui(scenario, args, target, quiet=quiet)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _tour(args: argparse.Namespace) -> int:
    """The picker, then the chosen demo, then the picker again (on the demo just run)."""
    from lrwatch.tui.demo import DemoPicker

    names = list(SCENARIOS)
    index = 0
    while True:
        name = DemoPicker(list(SCENARIOS.values()), index).run()
        if name is None:
            return 0
        _one(SCENARIOS[name], args, quiet=True)
        # Back on the demo just run: a person who quits to read its text again, or to run it
        # once more, must not find the cursor moved (↓ enter goes on to the next).
        index = names.index(name)


#: Steps of an open-ended demo in the UI: more than anyone watches (days at its pace); the
#: training stops when the UI quits (or when an unrescued run's loss overflows).
UNTIL_STOPPED = 10_000_000


def child_command(
    scenario: Scenario,
    args: argparse.Namespace,
    target: Path,
    progress: int,
    *,
    ui: bool = False,
) -> list[str]:
    """The command line of the demo's training process (``ui``: watched in the UI, so an
    ``open_ended`` scenario without ``--steps``/``--fast`` runs until the UI stops it)."""
    steps = args.steps or (scenario.fast_steps if args.fast else scenario.steps)
    if ui and scenario.open_ended and not args.steps and not args.fast:
        steps = UNTIL_STOPPED
    pace = 0.0 if args.fast else (scenario.pace if args.pace is None else args.pace)
    cmd = [sys.executable, "-m", "lrwatch.demos.run", scenario.name, "--log", str(target)]
    cmd += ["--seed", str(args.seed), "--steps", str(steps), "--pace", str(pace)]
    if ui:  # the UI may die with its terminal before it can stop us: then stop by ourselves
        cmd += ["--parent", str(os.getpid())]
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


def output_of(target: Path) -> Path:
    """Where the demo's training process writes its stdout, beside its logs ``target``."""
    return target.with_suffix(".out") if target.suffix else target.with_name(target.name + ".out")


def _served(scenario: Scenario, target: Path) -> int:
    """One browser tab's UI on a demo whose training ``lrwatch serve`` started (not ours to
    wait for or stop: closing a tab leaves it running)."""
    from lrwatch.tui.demo import DemoApp

    app = DemoApp(scenario, output_of(target), paths=_watch_paths(target))
    app.run()
    return int(app.return_code or 0)


def _with_ui(scenario: Scenario, args: argparse.Namespace, target: Path, *, quiet: bool) -> int:
    from lrwatch.commands.run import spawn, stop
    from lrwatch.demos.runner import banner
    from lrwatch.tui.demo import DemoApp

    out = output_of(target)
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = _watch_paths(target)
    if not quiet:
        print(banner(scenario))
    pilot = ui_bounds(args, "demo")
    proc = spawn(child_command(scenario, args, target, progress=0, ui=True), out)
    try:
        app = DemoApp(scenario, out, paths=paths, child=proc, autopilot=pilot)
        app.run()
        code = int(app.return_code or 0)
    finally:
        stop(proc)
    if not quiet:
        print(banner(scenario))
    if args.log and not quiet:
        print(f"logs: {', '.join(paths)}  (training output: {out})")
    return code
