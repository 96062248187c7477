"""``lrwatch serve [options] watch|attach|run|demo ARGS...``: the same UI in a browser.

Each browser tab gets its own app process, ``lrwatch COMMAND ARGS...`` exactly as in a
terminal, through textual-serve (:mod:`lrwatch.serve`). A command that starts training
(``run``, ``demo``) starts it once, here; every tab then shows that one run, so two tabs, or a
tab closed and opened again, never start a second training, and closing a tab stops nothing.
The training stops when serve stops (``run --keep``: it goes on).

Safety: it binds 127.0.0.1 unless ``--public`` allows another address, and every HTTP and
WebSocket request needs the token in the printed URL (then in the cookie that URL sets).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lrwatch.commands._args import int_in
from lrwatch.commands.run import command_of

#: The commands that open the UI and so can be served.
SERVED = ("watch", "attach", "run", "demo")
#: A fixed default port, so that an ``ssh -L`` line written once keeps working.
DEFAULT_PORT = 8765
ENV_TOKEN = "LRWATCH_SERVE_TOKEN"


def register(subparsers: Any) -> None:
    """Add the ``serve`` subcommand."""
    p = subparsers.add_parser(
        "serve",
        help="the same UI in a browser (one app per tab), behind a token",
        description="Serve `lrwatch watch|attach|run|demo ARGS` to web browsers with "
        "textual-serve: the terminal UI itself, keys and all. Prints a URL with a token; "
        "requests without it are refused. A run or demo is started once and shared by every "
        "tab. See docs/serve.md.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument(
        "--port",
        type=int_in(0, 65535),
        default=DEFAULT_PORT,
        help=f"port (default {DEFAULT_PORT}; 0: any)",
    )
    p.add_argument(
        "--public",
        action="store_true",
        help="allow a --host other than loopback (anyone who can reach it and has the URL "
        "can change your run's LR: prefer ssh -L)",
    )
    p.add_argument("--token", default=None, help=f"the token (default: ${ENV_TOKEN} or random)")
    p.add_argument(
        "--theme", choices=("dark", "light"), default=None, help="the page's and the UI's theme"
    )
    p.add_argument(
        "--max-tabs",
        type=int_in(1, 1000),
        default=8,
        help="app processes at once, one per tab (default 8)",
    )
    p.add_argument("what", choices=SERVED, metavar="COMMAND", help="|".join(SERVED))
    p.add_argument("args", nargs=argparse.REMAINDER, help="the command's arguments")
    p.set_defaults(func=run)


class Refused(Exception):
    """Arguments serve will not act on; the message says why and what to do."""


@dataclass
class Launch:
    """What each tab runs, and the training serve started for them (if any)."""

    argv: list[str]  #: ``lrwatch`` arguments of one tab's app
    title: str
    proc: subprocess.Popen[bytes] | None = None
    keep: bool = False  #: leave ``proc`` running when serve stops (``run --keep``)
    cleanup: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def inner_args(what: str, argv: list[str]) -> argparse.Namespace:
    """``argv`` parsed by ``what``'s own parser: a mistake fails now, not in every tab."""
    parser = argparse.ArgumentParser(prog="lrwatch serve")
    sub = parser.add_subparsers(dest="command")
    importlib.import_module(f"lrwatch.commands.{what}").register(sub)
    return parser.parse_args([what, *argv])


def check(what: str, argv: list[str]) -> argparse.Namespace:
    """The served command's arguments, or :class:`Refused`; starts nothing."""
    ns = inner_args(what, argv)
    if getattr(ns, "autopilot", False):
        raise Refused(
            "--autopilot in a served UI would run one autopilot per browser tab on the same "
            "run; run one beside it instead: lrwatch guard LOG --autopilot"
        )
    if what == "demo":
        from lrwatch.demos.registry import SCENARIOS

        if ns.headless or ns.list:
            raise Refused("--headless and --list print, they open no UI: run them without serve")
        if ns.name is not None and ns.name not in SCENARIOS:
            raise Refused(f"unknown demo {ns.name!r}; known: {', '.join(SCENARIOS)}")
    if what == "run" and not command_of(ns):
        raise Refused("give the command after --, e.g. lrwatch serve run -- python train.py")
    return ns


def launch(what: str, argv: list[str], ns: argparse.Namespace) -> Launch:
    """Start the training of a ``run`` or ``demo`` (:func:`check`-ed ``ns``), once for every
    tab, and say what tabs run."""
    if what == "demo":
        return _demo(ns)
    if what == "run":
        return _run(ns, argv)
    return Launch([what, *argv], title=f"lrwatch {what} {' '.join(argv)}".strip())


def _demo(ns: argparse.Namespace) -> Launch:
    from lrwatch.commands.demo import child_command, output_of
    from lrwatch.commands.run import spawn
    from lrwatch.demos.registry import DEFAULT, SCENARIOS

    name = ns.name or DEFAULT
    tmp = None if ns.log else Path(tempfile.mkdtemp(prefix="lrwatch-serve-"))
    target = (Path(ns.log) if tmp is None else tmp / "logs").resolve()
    out = output_of(target)
    out.parent.mkdir(parents=True, exist_ok=True)
    # child_command's --parent is this process: the training stops if serve dies.
    proc = spawn(child_command(SCENARIOS[name], ns, target, progress=0, ui=True), out)
    launched = Launch(["demo", name, "--served", str(target)], f"lrwatch demo {name}", proc)
    if tmp is not None:
        launched.cleanup.append(tmp)
    else:
        launched.notes.append(f"logs: {target}  (training output: {out})")
    return launched


def _run(ns: argparse.Namespace, argv: list[str]) -> Launch:
    from lrwatch.commands.run import fresh_name, paths_for, run_name, start

    cmd = command_of(ns)
    name = fresh_name(ns.dir, ns.name or run_name(cmd))
    out, log = paths_for(ns.dir, name)
    try:
        proc = start(cmd, out, log, name)
    except OSError as exc:
        raise Refused(f"cannot start {cmd[0]}: {exc}") from exc
    launched = Launch(["run", "--served", name, *argv], f"lrwatch run {name}", proc, ns.keep)
    launched.notes.append(f"output: {out}  log: {log} (or where its Monitor says)")
    return launched


def tab_command(argv: list[str]) -> str:
    """The shell command textual-serve runs for each tab."""
    return shlex.join([sys.executable, "-m", "lrwatch", *argv])


def url_lines(host: str, port: int, token: str, public: bool) -> list[str]:
    """The lines that tell a person where to point a browser, here and from a laptop."""
    shown = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    lines = [f"  open  http://{shown}:{port}/?token={token}"]
    if not public:
        who = f"{getpass.getuser()}@{socket.gethostname()}"
        lines += [
            f"  from a laptop:  ssh -N -L {port}:{shown}:{port} {who}",
            f"       then open  http://localhost:{port}/?token={token}",
        ]
    else:
        lines.append("  plain HTTP: the token crosses the network as is (prefer ssh -L)")
    return lines


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl+C; returns 0, or 2 when the arguments or the bind are refused."""
    from lrwatch.control.endpoint import is_loopback
    from lrwatch.serve.auth import new_token
    from lrwatch.tui.theme import THEME_ENV

    if not args.public and not is_loopback(args.host):
        print(
            f"lrwatch serve: --host {args.host} is reachable from other machines, and whoever "
            "has the URL can change your run's LR; add --public to mean it, or keep the "
            "default 127.0.0.1 and use ssh -L",
            file=sys.stderr,
        )
        return 2
    token = args.token or os.environ.get(ENV_TOKEN) or new_token()
    if args.theme:
        os.environ[THEME_ENV] = args.theme  # every tab's app process inherits it
    argv = list(args.args)
    try:
        ns = check(args.what, argv)  # every refusal before the port is taken
        sock = _bind(args.host, args.port)
        launched = launch(args.what, argv, ns)  # and the training starts once it is
    except Refused as exc:
        print(f"lrwatch serve: {exc}", file=sys.stderr)
        return 2
    try:
        _serve(args, token, sock, launched)
    finally:
        _finish(launched)
    return 0


def _bind(host: str, port: int) -> socket.socket:
    from lrwatch.serve.server import bind

    try:
        return bind(host, port)
    except OSError as exc:
        hint = " (--port 0 takes any free port)" if port else ""
        raise Refused(f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}") from exc


def _serve(args: argparse.Namespace, token: str, sock: socket.socket, launched: Launch) -> None:
    from lrwatch.serve.server import AppServer, Served
    from lrwatch.tui.theme import THEME_ENV

    # The page's colours: --theme, else the UI's own theme ($LRWATCH_THEME) as light or dark.
    theme = "light" if "light" in os.environ.get(THEME_ENV, "") else "dark"
    served = Served(tab_command(launched.argv), token, launched.title, theme, args.max_tabs)
    server = AppServer(served, sock)
    port = sock.getsockname()[1]

    def ready() -> None:
        print(
            f"lrwatch serve: {launched.title} — one app per browser tab (at most {args.max_tabs})"
        )
        print("\n".join(url_lines(args.host, port, token, args.public)))
        for note in launched.notes:
            print(f"  {note}")
        stops = " and the training it started" if launched.proc and not launched.keep else ""
        print(f"  Ctrl+C stops serving{stops}", flush=True)

    asyncio.run(server.run(ready))


def _finish(launched: Launch) -> None:
    from lrwatch.commands.run import stop

    proc = launched.proc
    if proc is not None and proc.poll() is None:
        if launched.keep:
            print(f"lrwatch serve: the run goes on (pid {proc.pid}); stop it: kill -INT {proc.pid}")
        else:
            print("lrwatch serve: stopping the training it started…", flush=True)
            stop(proc)
    for path in launched.cleanup:
        shutil.rmtree(path, ignore_errors=True)
