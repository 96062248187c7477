"""``lrwatch ctl TARGET COMMAND``: steer a live run from another terminal.

TARGET is the run's log file (the endpoint comes from its header), a socket path, ``unix:PATH``,
``tcp://HOST:PORT`` or ``file:LOG``. Exit codes: 0 done, 1 refused by the run, 2 usage error or
the run cannot be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from typing import Any

from lrwatch.control.client import ControlClient, ControlError
from lrwatch.lrchange import LRChange, ack_step

EXIT_OK, EXIT_REFUSED, EXIT_UNREACHABLE = 0, 1, 2


def register(subparsers: Any) -> None:
    """Add the ``ctl`` subcommand."""
    p = subparsers.add_parser(
        "ctl",
        help="change the LR of a live run, pause/resume it, query its status",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("target", metavar="TARGET", help="log file, socket path, unix:PATH, tcp://H:P")
    _common(p, None)
    # The same options are accepted after COMMAND too (`ctl LOG set-lr 0.1 --json`).
    common = argparse.ArgumentParser(add_help=False)
    _common(common, argparse.SUPPRESS)
    cmds = p.add_subparsers(dest="ctl_command", metavar="COMMAND", required=True)

    def add(name: str, help: str) -> argparse.ArgumentParser:
        return cmds.add_parser(name, help=help, parents=[common])

    add("status", "step, LR per group, paused, last metrics")
    s = add("set-lr", "set the LR (all groups keep their ratios)")
    s.add_argument("value", type=float)
    s.add_argument("--group", type=int, default=None, help="only this param group")
    s.add_argument("--pin", action="store_true", help="hold exactly this LR from now on")
    s = add("scale-lr", "multiply the LR by FACTOR")
    s.add_argument("factor", type=float)
    s.add_argument("--group", type=int, default=None, help="only this param group")
    s.add_argument("--pin", action="store_true", help="hold the result instead of rescaling")
    s = add("unpin", "release pinned LRs: follow the (re-anchored) schedule again")
    s.add_argument("--group", type=int, default=None, help="only this param group")
    r = add("rewind", "restore a snapshot from before a step (optionally scaling the LR)")
    where = r.add_mutually_exclusive_group(required=True)
    where.add_argument("--steps-back", type=int, metavar="N", help="to N steps before now")
    where.add_argument("--to-step", type=int, metavar="STEP", help="to this step (or before)")
    r.add_argument("--scale", type=float, default=None, help="then multiply the LR by this")
    r.add_argument("--pin", action="store_true", help="hold the scaled LR instead of rescaling")
    add("pause", "block training at the next step boundary")
    add("resume", "let a paused run continue")
    add("history", "LR changes applied so far")
    s = add("schedule", "the LRs the run's scheduler will give over the next steps")
    s.add_argument("--horizon", type=int, default=None, help="steps ahead (default: to the end)")
    s.add_argument("--points", type=int, default=20, help="sampled steps to print")
    t = add("tail", "print the run's records as they come")
    t.add_argument("-n", "--backlog", type=int, default=20, help="recent records to show first")
    p.set_defaults(func=run)


def _common(p: argparse.ArgumentParser, default: Any) -> None:
    p.add_argument(
        "--token",
        default=default,
        help="TCP token (default: $LRWATCH_TOKEN or the log's .token file)",
    )
    flag_default = default if default is argparse.SUPPRESS else False
    p.add_argument("--json", action="store_true", default=flag_default, help="print raw JSON")
    p.add_argument("--timeout", type=float, default=default, help="seconds to wait for the reply")


def connect(target: str, token: str | None, timeout: float) -> ControlClient:
    """A client for any TARGET form; :class:`ControlError` says why it cannot be reached."""
    token = token or os.environ.get("LRWATCH_TOKEN")
    if target.startswith(("unix:", "tcp://", "file:")):
        return ControlClient(target, token=token, timeout=timeout)
    try:
        mode = os.stat(target).st_mode
    except OSError:
        raise ControlError(
            f"{target}: no such log or socket; give the run's log file, its socket, "
            "unix:PATH or tcp://HOST:PORT"
        ) from None
    if stat.S_ISSOCK(mode):
        return ControlClient(f"unix:{target}", token=token, timeout=timeout)
    return ControlClient.from_log(target, token=token, timeout=timeout)


def _lr_change(args: argparse.Namespace) -> LRChange | None:
    """The LR change ``set-lr`` / ``scale-lr`` / ``unpin`` asks for (None for other commands)."""
    cmd = args.ctl_command
    mode = "pin" if getattr(args, "pin", False) else "rescale"
    if cmd == "set-lr":
        return LRChange.set(args.value, args.group, mode)
    if cmd == "scale-lr":
        return LRChange.scale(args.factor, args.group, mode)
    if cmd == "unpin":
        return LRChange.unpin(args.group)
    return None


def _request(args: argparse.Namespace) -> tuple[str, dict[str, Any], float]:
    """``(op, arguments, default timeout)``: changes wait for a step boundary, reads do not."""
    change = _lr_change(args)
    if change is not None:
        return change.op, change.args(), 60.0
    cmd = args.ctl_command
    if cmd in ("pause", "resume"):
        return cmd, {}, 60.0
    if cmd == "schedule":  # answered at the next step boundary
        horizon = {} if args.horizon is None else {"horizon": args.horizon}
        return cmd, {"points": args.points, **horizon}, 60.0
    if cmd == "rewind":
        return cmd, _rewind_args(args), 120.0  # restoring a big model takes a while
    return cmd, {}, 5.0


def _rewind_args(args: argparse.Namespace) -> dict[str, Any]:
    """The ``rewind`` request's arguments (only those given: the run validates them)."""
    params: dict[str, Any] = {}
    if args.steps_back is not None:
        params["steps_back"] = args.steps_back
    if args.to_step is not None:
        params["to_step"] = args.to_step
    if args.scale is not None:
        params["scale_lr"] = args.scale
        params["mode"] = "pin" if args.pin else "rescale"
    return params


def run(args: argparse.Namespace) -> int:
    """Entry point of ``lrwatch ctl``."""
    op, params, default_timeout = _request(args)
    timeout = args.timeout or default_timeout
    try:
        client = connect(args.target, args.token, timeout)
        with client:
            if op == "tail":
                return _tail(client, args)
            reply = client.request(op, timeout=timeout, **params)
    except ControlError as exc:
        print(f"lrwatch ctl: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    if args.json:
        print(json.dumps(reply))
    else:
        print(describe(op, reply), file=sys.stdout if reply.get("ok") else sys.stderr)
    return EXIT_OK if reply.get("ok") else EXIT_REFUSED


def _tail(client: ControlClient, args: argparse.Namespace) -> int:
    for record in client.subscribe(backlog=args.backlog):
        print(json.dumps(record) if args.json else describe_record(record), flush=True)
    return EXIT_OK


def _lrs(values: list[float]) -> str:
    return ", ".join(f"{v:.6g}" for v in values)


def describe(op: str, reply: dict[str, Any]) -> str:
    """A one-screen human rendering of a reply."""
    if not reply.get("ok"):
        err = reply.get("error", {})
        return f"refused ({err.get('code')}): {err.get('message')}"
    if op in ("set_lr", "scale_lr", "unpin"):
        return (
            f"{op} applied from step {ack_step(reply)} ({reply['mode']}): "
            f"lr [{_lrs(reply['old'])}] -> [{_lrs(reply['new'])}]"
        )
    if op in ("pause", "resume"):
        state = "paused" if reply.get("paused") else "running"
        return f"{state} at step {ack_step(reply)}"
    if op == "rewind":
        return describe_rewind(reply)
    if op == "history":
        rows = [
            f"step {c['step']:>8}  {c['op']:<8} {c['mode']:<7} "
            f"[{_lrs(c['old'])}] -> [{_lrs(c['new'])}]  by {c['by']}"
            for c in reply.get("changes", [])
        ]
        return "\n".join(rows) or "no LR changes yet"
    if op == "schedule":
        return describe_schedule(reply)
    if op == "status":
        metrics = "  ".join(f"{k}={v:.6g}" for k, v in reply.get("metrics", {}).items())
        return (
            f"run {reply.get('run')}  step {reply.get('step')}  "
            f"{'PAUSED' if reply.get('paused') else 'running'}\n"
            f"lr per group: [{_lrs(reply.get('lr', []))}]\n"
            f"last metrics: {metrics or '-'}"
        )
    return json.dumps(reply)


def describe_rewind(r: dict[str, Any]) -> str:
    """A rewind ack or record in one line."""
    change = f", lr × {r['factor']:g} ({r.get('mode')})" if r.get("factor") is not None else ""
    return (
        f"rewound from step {r.get('step')} to step {r.get('to_step')} "
        f"({r.get('source')}{change}): lr [{_lrs(r.get('old', []))}] -> "
        f"[{_lrs(r.get('new', []))}]; next step {_next(r.get('to_step'))}"
    )


def _next(step: Any) -> Any:
    return step + 1 if isinstance(step, int) and not isinstance(step, bool) else "?"


def describe_schedule(reply: dict[str, Any]) -> str:
    """``schedule``: one line per sampled step, the LR of every group, and why not exact."""
    head = f"schedule of {reply.get('scheduler') or 'no scheduler'} from step {reply.get('step')}"
    lrs = reply.get("lr") or []
    rows = [f"{head}, {reply.get('horizon')} steps ahead"]
    rows += [
        f"step {s:>8}  lr [{_lrs([col[i] for col in lrs])}]"
        for i, s in enumerate(reply.get("steps", []))
    ]
    if reply.get("why"):
        rows.append(f"not exact: {reply['why']}")
    return "\n".join(rows)


def describe_record(record: dict[str, Any]) -> str:
    """One line per streamed record."""
    kind = record.get("kind")
    if kind is None:
        step = record.get("step")
        values = "  ".join(
            f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in record.items()
            if k not in ("step", "t")
        )
        return f"step {step}  {values}"
    if kind == "rewind":
        return describe_rewind(record)
    if kind == "lr_change":
        return (
            f"lr_change at step {record.get('step')}: [{_lrs(record.get('old', []))}] -> "
            f"[{_lrs(record.get('new', []))}] ({record.get('mode')}, by {record.get('by')})"
        )
    return json.dumps(record)
