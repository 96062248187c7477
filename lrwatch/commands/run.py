"""``lrwatch run -- CMD ARGS...``: start a training command and watch it in the UI.

The child writes its stdout and stderr straight into ``DIR/NAME.console.log``: no pipe
through the UI, so nothing is lost and the child keeps running if the UI dies (even by
SIGKILL), and the UI tails that file like any log. The child gets ``LRWATCH_LOG`` /
``LRWATCH_CONTROL`` / ``LRWATCH_RUN`` so that a ``lrwatch.Monitor()`` without arguments logs
to ``DIR/NAME.jsonl`` and opens its control socket next to it, and ``LRWATCH_RENDEZVOUS=
DIR/NAME.rendezvous``, where any Monitor (``log=`` or not) announces the log it writes.

The UI reads the console output as a run (a script without a Monitor is charted from what it
prints) until the Monitor's log has records; then that log is the run shown and controlled,
and the console output is its console pane (key ``c``), no longer a run of its own.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lrwatch.commands._args import (
    add_loss_arguments,
    add_regex_argument,
    add_rules_argument,
    source_options,
)
from lrwatch.commands._autopilot_args import add_autopilot_arguments, ui_bounds
from lrwatch.rendezvous import ENV_RENDEZVOUS, SUFFIX

#: Seconds the child gets to stop after SIGINT when the UI quits, before SIGTERM.
STOP_GRACE = 10.0


def register(subparsers: Any) -> None:
    """Add the ``run`` subcommand."""
    p = subparsers.add_parser(
        "run",
        help="run a training command and watch (and steer) it live",
        description="Run CMD with its output written to DIR/NAME.console.log and an environment "
        "that makes lrwatch.Monitor() log to DIR/NAME.jsonl and open its control socket "
        "where the UI looks. Exits with the command's exit code.",
    )
    p.add_argument("--dir", default="runs", help="where the output and log go (default: runs)")
    p.add_argument("--name", default=None, help="run name (default: the script's name)")
    p.add_argument("--format", dest="fmt", default=None, help="format of the console output")
    add_rules_argument(p)
    add_loss_arguments(p)
    add_regex_argument(p)
    p.add_argument(
        "--keep", action="store_true", help="leave the command running when the UI quits"
    )
    # lrwatch serve started NAME's command in --dir already: one UI per browser tab on it.
    p.add_argument("--served", default=None, metavar="NAME", help=argparse.SUPPRESS)
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD ARGS...")
    add_autopilot_arguments(p, ui=True)
    p.set_defaults(func=run)


def run_name(cmd: list[str]) -> str:
    """A name from the command: the script for ``python train.py``, else the program."""
    words = [w for w in cmd if not w.startswith("-")]
    pick = words[1] if len(words) > 1 and Path(words[0]).name.startswith("python") else words[0]
    return Path(pick).stem or "run"


def child_env(log: Path, name: str) -> dict[str, str]:
    """The child's environment: where its Monitor logs (unless told otherwise), where it says
    where it logs, opens its socket, and its name."""
    env = dict(os.environ)
    env.update(
        LRWATCH_LOG=str(log),
        **{ENV_RENDEZVOUS: str(rendezvous_of(log))},
        LRWATCH_CONTROL="unix",
        LRWATCH_RUN=name,
        # Output goes to a file: without this Python block-buffers it and the UI lags.
        PYTHONUNBUFFERED="1",
    )
    return env


def start(cmd: list[str], out: Path, log: Path, name: str) -> subprocess.Popen[bytes]:
    """Start ``cmd`` with stdout+stderr into ``out`` and the Monitor's environment."""
    return spawn(cmd, out, child_env(log, name))


def spawn(cmd: list[str], out: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``cmd`` with stdout+stderr appended to ``out``, in its own session (the UI owns
    the tty, and :func:`stop` signals the whole process group); ``env`` None: inherited."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "ab") as fh:
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen[bytes], grace: float = STOP_GRACE) -> int:
    """Interrupt the child's process group like Ctrl+C would; SIGTERM it after ``grace``."""
    if proc.poll() is not None:
        return proc.returncode
    for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is not None:
            break
    return proc.wait()


def paths_for(directory: str, name: str) -> tuple[Path, Path]:
    """The console output file and the Monitor's log of run ``name``.

    Distinct stems, so the two runs the UI shows get short, distinct names
    (``NAME.console`` and ``NAME``) instead of path-qualified ones.
    """
    return Path(directory) / f"{name}.console.log", Path(directory) / f"{name}.jsonl"


def rendezvous_of(log: Path) -> Path:
    """Where the child's Monitor announces its log: ``DIR/NAME.rendezvous`` beside ``log``
    (no log suffix: a directory watch does not take it for a run)."""
    return log.with_suffix(SUFFIX)


def fresh_name(directory: str, name: str) -> str:
    """``name``, or ``name-2``, ``name-3``… when files of that run already exist in ``directory``.

    Appending to an earlier run's files would mix two runs on one chart; its rendezvous file
    too (left over from a Monitor that logged elsewhere) would make the UI follow that log.
    """

    def files(name: str) -> tuple[Path, ...]:
        out, log = paths_for(directory, name)
        return out, log, rendezvous_of(log)

    candidate, k = name, 1
    while any(p.exists() for p in files(candidate)):
        k += 1
        candidate = f"{name}-{k}"
    return candidate


def make_app(
    args: argparse.Namespace, proc: subprocess.Popen[bytes] | None, out: Path, log: Path
) -> Any:
    """The UI over the child's console output, then its Monitor's log, wherever the Monitor
    says (in the rendezvous file beside ``log``) it logs. ``proc`` None: the child is not
    ours (``lrwatch serve`` started it, and a browser tab's UI neither waits for nor stops it)."""
    from lrwatch.commands.watch import load_rules
    from lrwatch.tui.app import LRWatchApp

    rules = load_rules(args.rules)
    app = LRWatchApp(
        paths=[str(out)],  # the Monitor's log joins once it announces it (any path)
        fmt=args.fmt,  # not format_of: --regex is for the console output, the log is JSONL
        rules_config=rules,
        source_options=source_options(args, rules),
        child=proc,
        keep_child=args.keep,
        autopilot=ui_bounds(args, "run"),
    )
    app.session.follow_child(str(out), str(rendezvous_of(log)))
    return app


def run(args: argparse.Namespace) -> int:
    """Start the command, open the UI on its output and log; returns the child's exit code."""
    if args.served:
        return served(args)
    cmd = command_of(args)
    if not cmd:
        print(
            "lrwatch run: give the command after --, e.g. lrwatch run -- python train.py",
            file=sys.stderr,
        )
        return 2
    name = fresh_name(args.dir, args.name or run_name(cmd))
    out, log = paths_for(args.dir, name)
    try:
        proc = start(cmd, out, log, name)
    except OSError as exc:
        print(f"lrwatch run: cannot start {cmd[0]}: {exc}", file=sys.stderr)
        return 127
    app = make_app(args, proc, out, log)
    try:
        app.run()
    finally:
        keep = keeps_child(app.stop_child, app.return_code)
        if not keep and proc.poll() is None:
            print(f"lrwatch run: stopping {name} (SIGINT, then SIGTERM after {STOP_GRACE:g} s)…")
        code = proc.poll() if keep else stop(proc)
    # The log the Monitor announced (None: the command has no Monitor; its output is the log).
    logged = app.child_log or str(out)
    if code is None:
        print(
            f"lrwatch run: {name} still running (pid {proc.pid}); output {out}, log {logged}\n"
            f"  watch it again: lrwatch watch {logged}\n  stop it: kill -INT {proc.pid}"
        )
        return 0
    print(f"lrwatch run: {name} {exit_text(code)}; output {out}, log {logged}")
    return code if code >= 0 else 128 - code  # killed by a signal: the shell's convention


def command_of(args: argparse.Namespace) -> list[str]:
    """The training command after ``--`` (argparse's REMAINDER keeps the ``--``)."""
    cmd: list[str] = args.cmd
    return [c for c in cmd if c != "--"] if cmd[:1] == ["--"] else list(cmd)


def served(args: argparse.Namespace) -> int:
    """One browser tab's UI on run ``--served NAME`` that ``lrwatch serve`` started."""
    out, log = paths_for(args.dir, args.served)
    app = make_app(args, None, out, log)
    app.run()
    return int(app.return_code or 0)


def keeps_child(stop_child: bool, ui_return_code: int | None) -> bool:
    """Whether the training goes on after the UI: the user said so (q, then n; or --keep),
    or the UI failed (an exception: return code not 0) - the run survives the UI."""
    return not stop_child or ui_return_code != 0


def exit_text(code: int) -> str:
    """``exited with code 3`` or ``killed by SIGTERM``."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"
