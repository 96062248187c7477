"""Fuzz a real training process over every control transport, and judge how it took it.

A trainee (``tests/control/trainee.py``: torch SGD with an lrwatch Monitor) serves a Unix
socket, TCP with a token, and the command file. Every message goes over every transport
(TCP also without the token); each reply is checked against the message's expectations, a
``status`` after each shows the connection still answers, and at the end: the trainee is
alive, exits 0 when told to stop, its log is whole JSON lines ending in ``end``, nothing
changed its LR, its losses are bitwise those of an undisturbed twin, and its memory grew by
less than :data:`RSS_GROWTH_MAX`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.fuzz_lib.messages import Message
from benchmarks.fuzz_lib.transports import (
    HANG_S,
    FileChannel,
    NoTokenChannel,
    Outcome,
    SocketChannel,
    wait_for_growth,
)

ROOT = Path(__file__).resolve().parents[2]
TRAINEE = ROOT / "tests" / "control" / "trainee.py"
TRANSPORTS = ("unix", "tcp", "tcp-notoken", "file")
#: Resident memory the trainee may gain over the whole corpus (generous: no leak is per message).
RSS_GROWTH_MAX = 64 << 20
#: Hangs on one transport after which the rest of its messages are skipped.
MAX_HANGS = 3
START_S = 180.0  # torch import and the first steps on a busy machine


@dataclass
class Failure:
    """One message that did not get what a correct server answers."""

    transport: str
    index: int
    kind: str
    line: str  #: repr of the message's first bytes
    problem: str


@dataclass
class CtlReport:
    """Everything the control fuzz saw."""

    sent: Counter[str] = field(default_factory=Counter)
    answered: Counter[str] = field(default_factory=Counter)
    hangs: Counter[str] = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    end_problems: list[str] = field(default_factory=list)
    rss: dict[str, int] = field(default_factory=dict)
    steps: int = 0
    crashed: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """No failure at all."""
        return not (self.failures or self.end_problems or self.crashed)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    for key in ("LRWATCH_LOG", "LRWATCH_CONTROL", "LRWATCH_RUN"):
        env.pop(key, None)
    return env


@dataclass
class Run:
    """A trainee subprocess and its files."""

    proc: subprocess.Popen[bytes]
    log: Path
    stop_file: Path
    stderr: Path

    @classmethod
    def start(cls, work: Path, name: str) -> Run:
        """Start trainee.py serving TCP (token) and a Unix socket, plus its command file."""
        log, sock = work / f"{name}.jsonl", work / f"{name}.sock"
        control = f"tcp://127.0.0.1:0,unix:{sock}"
        cmd = [sys.executable, str(TRAINEE), str(log), "--min-steps", "1"]
        cmd += ["--stop-file", str(work / f"{name}.stop"), "--control", control]
        cmd += ["--sleep", "0.02"]  # ~50 steps/s: far from its 20000-step cap for minutes
        err = work / f"{name}.stderr"
        with open(err, "wb") as f:
            proc = subprocess.Popen(cmd, env=_env(), stderr=f, stdout=subprocess.DEVNULL)
        return cls(proc, log, work / f"{name}.stop", err)

    def records(self) -> list[dict[str, Any]]:
        """Every record of the log (ValueError on a line that is not whole JSON)."""
        return [json.loads(line) for line in self.log.read_bytes().splitlines()]

    def header(self) -> dict[str, Any]:
        """Wait for the run header."""
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            if self.log.exists() and self.log.stat().st_size:
                first = self.log.read_bytes().split(b"\n", 1)[0]
                return json.loads(first)
            if self.proc.poll() is not None:
                raise RuntimeError(f"trainee exited {self.proc.returncode}: {self.err()}")
            wait_for_growth(self.log, 0, deadline)
        raise RuntimeError("trainee wrote no header")

    def losses(self) -> list[float]:
        """The loss column."""
        return [r["loss"] for r in self.records() if "kind" not in r and "loss" in r]

    def err(self) -> str:
        """The trainee's stderr so far."""
        return self.stderr.read_text(errors="replace")[-2000:]

    def stop(self) -> int | None:
        """Ask it to finish; its exit code (None if it did not exit within the deadline)."""
        self.stop_file.touch()
        try:
            return self.proc.wait(timeout=START_S)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """Kill it if it still runs."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


def rss(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in bytes."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024
    return out


def check(msg: Message, out: Outcome, transport: str) -> str | None:
    """Why ``out`` is not a correct answer to ``msg`` over ``transport`` (None: it is)."""
    if out.dead:
        return "the training process died"
    if out.hang:
        return f"no reply within {HANG_S:g} s (hang)"
    if out.note:
        return out.note
    if not out.replies:
        return "no reply"
    if len(out.replies) > 1 and not msg.multi:
        return f"{len(out.replies)} replies: {_short(out.replies)}"
    for reply in out.replies:
        problem = _check_reply(msg, reply, transport)
        if problem:
            return f"{problem}: {_short(reply)}"
    codes = {_code(r) for r in out.replies}
    if transport == "tcp-notoken" and not out.closed:
        return "an unauthenticated connection was left open"
    if transport in ("unix", "tcp") and out.closed and not codes <= {"too_long"}:
        return f"connection closed after {_short(out.replies)}"
    if not (out.fence and out.fence.get("ok")):
        return f"the status that followed got {_short(out.fence)}"
    return None


def _code(reply: dict[str, Any]) -> str | None:
    err = reply.get("error")
    return err.get("code") if isinstance(err, dict) else None


def _short(obj: Any) -> str:
    text = json.dumps(obj)
    return text if len(text) <= 200 else text[:200] + "..."


def _check_reply(msg: Message, reply: dict[str, Any], transport: str) -> str | None:
    if transport == "tcp-notoken":
        if reply.get("ok") is not False or _code(reply) not in ("unauthorized", "too_long"):
            return "not refused without a token"
        return None if reply.get("id") in (None, *msg.ids) else "wrong id"
    if reply.get("id") not in msg.ids:
        return f"id {reply.get('id')!r}, expected one of {msg.ids!r}"
    if reply.get("ok") is True:
        return None if msg.ok else "accepted"
    if reply.get("ok") is not False:
        return "neither ok nor an error"
    return None if _code(reply) in msg.codes else f"code not in {sorted(msg.codes)}"


def _channels(run: Run, head: dict[str, Any], only: tuple[str, ...]) -> dict[str, Any]:
    token = (run.log.with_suffix(".token")).read_text().strip()
    tcp = head["control"]
    unix = f"unix:{run.log.with_suffix('.sock')}"
    owner = SocketChannel("tcp", tcp, token)
    chans: dict[str, Any] = {
        "unix": SocketChannel("unix", unix),
        "tcp": owner,
        "tcp-notoken": NoTokenChannel(tcp, SocketChannel("tcp-owner", tcp, token)),
        "file": FileChannel(run.log.with_suffix(".cmd"), run.log, run.proc),
    }
    return {k: v for k, v in chans.items() if k in only}


def _fuzz_transport(name, chan, msgs, run: Run, report: CtlReport, say) -> None:
    fences = [f"fence-{name}-{i}" for i in range(len(msgs))]
    if name == "file":
        outcomes = chan.run(msgs, fences)
    else:
        outcomes = []
        for i, msg in enumerate(msgs):
            outcomes.append(chan.exchange(msg, fences[i]))
            if outcomes[-1].hang:
                report.hangs[name] += 1
            if report.hangs[name] >= MAX_HANGS or run.proc.poll() is not None:
                break
    for i, (msg, out) in enumerate(zip(msgs, outcomes, strict=False)):
        report.sent[name] += 1
        if name == "file" and out.hang:
            report.hangs[name] += 1
        problem = check(msg, out, name)
        if problem is None:
            report.answered[name] += 1
        else:
            report.failures.append(Failure(name, i, msg.kind, repr(msg.line[:120]), problem))
        if out.dead:
            report.crashed = True
            break
    say(f"  {name}: {report.sent[name]} sent, {report.answered[name]} answered correctly")


def fuzz_control(
    work: Path,
    msgs: list[Message],
    transports: tuple[str, ...] = TRANSPORTS,
    say: Callable[[str], None] = lambda s: None,
) -> CtlReport:
    """Send ``msgs`` to a live trainee over each of ``transports``; judge it and its twin."""
    t0 = time.monotonic()
    report = CtlReport()
    run, twin = Run.start(work, "fuzz"), Run.start(work, "twin")
    try:
        head = run.header()
        twin.header()
        chans = _channels(run, head, transports)
        unix = SocketChannel("unix-owner", f"unix:{run.log.with_suffix('.sock')}")
        _status(unix, "warmup")
        report.rss["before"] = rss(run.proc.pid)["VmRSS"]
        report.rss["hwm_before"] = rss(run.proc.pid)["VmHWM"]
        for name in transports:
            if run.proc.poll() is None:
                _fuzz_transport(name, chans[name], msgs, run, report, say)
        _finish(run, twin, unix, report)
    finally:
        run.kill()
        twin.kill()
    report.seconds = time.monotonic() - t0
    return report


def _status(chan: SocketChannel, rid: str) -> dict[str, Any] | None:
    return chan.request(b'{"id":"%s","op":"status"}\n' % rid.encode(), rid)


def _finish(run: Run, twin: Run, unix: SocketChannel, report: CtlReport) -> None:
    """The end checks: alive, unchanged, bounded memory, clean exit, whole log, twin losses."""
    problems = report.end_problems
    if run.proc.poll() is not None:
        report.crashed = True
        problems.append(f"the trainee died (exit {run.proc.returncode}): {run.err()}")
        return
    mem = rss(run.proc.pid)
    report.rss.update(after=mem["VmRSS"], hwm_after=mem["VmHWM"])
    if mem["VmRSS"] - report.rss["before"] > RSS_GROWTH_MAX:
        problems.append(f"RSS grew by {(mem['VmRSS'] - report.rss['before']) >> 20} MiB")
    status = _status(unix, "final")
    history = unix.request(b'{"id":"hist","op":"history"}\n', "hist")
    unix.close()
    if not status or status.get("lr") != [0.05] or status.get("paused") is not False:
        problems.append(f"final status {_short(status)}")
    if not history or history.get("changes") != []:
        problems.append(f"history {_short(history)}")
    code = run.stop()
    if code != 0:
        problems.append(f"trainee exit code {code}: {run.err()}")
    if "Traceback" in run.err():
        problems.append(f"trainee stderr: {run.err()}")
    _check_log(run, twin, report)


def _check_log(run: Run, twin: Run, report: CtlReport) -> None:
    problems = report.end_problems
    try:
        recs = run.records()
    except ValueError as exc:
        problems.append(f"the log has a line that is not whole JSON: {exc}")
        return
    kinds = Counter(r.get("kind") for r in recs if "kind" in r)
    if recs[-1].get("kind") != "end" or recs[-1].get("status") != "finished":
        problems.append(f"the log ends with {_short(recs[-1])}")
    for kind in ("lr_change", "pause", "resume"):
        if kinds[kind]:
            problems.append(f"{kinds[kind]} {kind} records")
    ours = run.losses()
    report.steps = len(ours)
    deadline = time.monotonic() + START_S
    while len(twin.losses()) < len(ours) and twin.proc.poll() is None:
        if time.monotonic() > deadline:
            break
        wait_for_growth(twin.log, twin.log.stat().st_size, deadline)
    twin.stop()
    theirs = twin.losses()
    if ours != theirs[: len(ours)] or len(theirs) < len(ours):
        diff = next((i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b), None)
        problems.append(f"losses differ from the twin's (first at step {diff}, {len(ours)} steps)")
