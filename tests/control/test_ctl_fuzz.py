"""Malformed control messages over every transport against a real training process (issue 17).

The corpus and the checks are those of ``benchmarks/fuzz.py`` (``benchmarks/fuzz_lib``), at a
small size here: every kind of malformed message twice, each over the Unix socket, TCP with the
token, TCP without it, and the command file. Each must get the right error reply with the
right id (or an ok reply for a valid read op), and a ``status`` right after it must work; at
the end the run is alive, unchanged, exits 0, its log is whole lines and its losses are
bitwise those of an undisturbed twin. No sleeps: waits are on replies and on the log growing,
with deadlines that only detect hangs.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.fuzz_lib.ctlrun import TRANSPORTS, CtlReport, fuzz_control
from benchmarks.fuzz_lib.messages import GENERATORS, HUGE, MAX_LINE, Message, corpus
from lrwatch.control import protocol as P

N = 2 * len(GENERATORS)

#: The issue's reproduction: a 401-digit LR (float() overflows).
ISSUE_HUGE = Message(
    "issue_huge_int",
    b'{"id":1,"op":"set_lr","value":%d}' % HUGE,
    (1,),
    frozenset({"bad_value"}),
)
#: An over-long line whose tail alone is a valid request: the tail must not be obeyed.
SMUGGLED = Message(
    "over_long",
    b"x" * (4 * MAX_LINE) + b'{"id":"smuggled","op":"status"}',
    (None,),
    frozenset({"too_long"}),
    multi=True,
)


def _messages() -> list[Message]:
    return [ISSUE_HUGE, SMUGGLED, *corpus(N, seed=5)]


def _explain(report: CtlReport) -> str:
    lines = [
        f"{f.transport} #{f.index} {f.kind} {f.line[:100]}: {f.problem}" for f in report.failures
    ]
    return "\n".join(lines + report.end_problems)


def test_the_corpus_covers_every_kind_and_changes_nothing() -> None:
    msgs = _messages()
    assert {m.kind for m in msgs} >= {g.__name__.removeprefix("gen_") for g in GENERATORS}
    limits = P.Limits(lr_ceiling=1.0, n_groups=1)
    for msg in msgs:
        assert b"\n" not in msg.line and msg.line.strip()
        try:
            req = P.parse_request(msg.line, limits)
        except P.ProtocolError:
            continue  # refused with an error reply: changes nothing
        assert req.op in ("hello", "status", "history"), msg  # never a change op or subscribe


def test_malformed_messages_over_every_transport(tmp_path: Path) -> None:
    msgs = _messages()
    report = fuzz_control(tmp_path, msgs)
    assert report.ok, _explain(report)
    assert all(report.sent[t] == len(msgs) for t in TRANSPORTS), report.sent
    assert all(report.answered[t] == len(msgs) for t in TRANSPORTS), report.answered
    assert report.steps > 0
    log = (tmp_path / "fuzz.jsonl").read_bytes()
    assert log.endswith(b"\n")
    assert all(json.loads(line) for line in log.splitlines())
