"""Malformed control-protocol requests, seeded, each with the replies it may get.

Every generator takes a ``random.Random`` and a fresh request id and returns one
:class:`Message`: a single request line (no newline inside) and what a correct server answers
(see docs/protocol.md, "Errors"). No message is a valid change op (``set_lr``, ``scale_lr``,
``unpin``, ``pause``, ``resume``, ``subscribe``), so a run that receives the whole corpus must
train exactly like an undisturbed twin. :func:`corpus` cycles through the generators, so even a
small corpus holds every kind.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: A number with 401 digits: does not fit a float (``float()`` raises OverflowError).
HUGE = 10**400

#: The longest request line the protocol accepts (docs/protocol.md).
MAX_LINE = 64 * 1024

READ_OPS = ("status", "history", "hello")
ALL_OPS = ("hello", "status", "history", "subscribe", "set_lr", "scale_lr", "unpin")
ALL_OPS += ("pause", "resume")

#: Values of the wrong JSON type for a number field / an integer field / a string field.
NOT_NUMBER: list[Any] = ["0.1", "", "NaN", True, False, None, [], [0.1], {}, {"v": 0.1}]
NOT_INT: list[Any] = ["0", 0.0, 1.5, math.nan, True, False, [], [0], {}, {"g": 0}]
NOT_STR: list[Any] = [0, 1.5, True, None, [], ["pin"], {}, {"m": "pin"}]


@dataclass(frozen=True, slots=True)
class Message:
    """One request line and the replies a correct server may give it."""

    kind: str  #: the generator's name
    line: bytes  #: the request, without its newline (never holds a newline)
    ids: tuple[Any, ...]  #: ids a reply may carry (None: the request had no usable id)
    codes: frozenset[str] = frozenset()  #: acceptable error codes
    ok: bool = False  #: an ok reply is acceptable (a valid read op)
    chunk: int = 0  #: > 0: sent in pieces of at most this many bytes
    multi: bool = False  #: more than one reply is acceptable (an over-long line)


def dumps(obj: Any, rng: random.Random) -> bytes:
    """JSON bytes, ASCII-escaped or raw UTF-8 at random, with random spacing."""
    sep = rng.choice([(",", ":"), (", ", ": ")])
    text = json.dumps(obj, separators=sep, ensure_ascii=True)
    if rng.random() < 0.5:
        try:
            return json.dumps(obj, separators=sep, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: only the escaped form is UTF-8
            pass
    return text.encode("ascii")


def _err(kind: str, line: bytes, rid: Any, *codes: str, **kw: Any) -> Message:
    return Message(kind, line, (rid,), frozenset(codes), **kw)


def _ok(kind: str, line: bytes, rid: Any, **kw: Any) -> Message:
    return Message(kind, line, (rid,), frozenset(), ok=True, **kw)


def _valid(rng: random.Random, rid: Any) -> dict[str, Any]:
    """A valid read request (status, history or hello)."""
    op = rng.choice(READ_OPS)
    return {"id": rid, "op": op, **({"client": "fuzz"} if op == "hello" else {})}


def gen_invalid_json(rng: random.Random, rid: Any) -> Message:
    """Broken JSON: truncated, single quotes, trailing commas, extra data, raw controls."""
    good = dumps(_valid(rng, rid), rng)
    choices = [
        good[: rng.randrange(1, len(good))],
        good.replace(b'"', b"'"),
        good[:-1] + b",}",
        good + rng.choice([b"}", b" x", b"{}", b"[]", b'"', b" " + good]),
        good.replace(b'"op"', b"op"),
        b'{"id": %s, "op": "status' % json.dumps(rid).encode(),
        b'{"id": 1, "op": "st\tatus"}',
        b"{" + good,
        b"#" + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))).replace(b"\n", b""),
        b'{"id": None, "op": True}',
    ]
    line = rng.choice(choices)
    return _err("invalid_json", line, None, "bad_json")


def gen_non_object(rng: random.Random, rid: Any) -> Message:
    """Valid JSON that is not an object."""
    wrapped = b"[" + dumps(_valid(rng, rid), rng) + b"]"
    scalars = [b"[]", b"1", b'"status"', b"null", b"true", b"-0", b"1e999", b'"\\ud800"', b"NaN"]
    line = rng.choice([*scalars, wrapped, b'[{"id": 1}, 2]'])
    return _err("non_object", line, None, "bad_request")


def gen_bad_id(rng: random.Random, rid: Any) -> Message:
    """An id that is not a string (≤ 128 chars) or a 64-bit integer."""
    req = _valid(rng, rid)
    bad = [True, 1.5, [1], {"a": 1}, None, "x" * 129, 2**63, -(2**63), HUGE, -HUGE, math.nan]
    if rng.random() < 0.1:
        del req["id"]
    else:
        req["id"] = rng.choice(bad)
    return _err("bad_id", dumps(req, rng), None, "bad_request")


def gen_bad_op(rng: random.Random, rid: Any) -> Message:
    """``op`` missing, not a string, or a string that is no op."""
    req = _valid(rng, rid)
    roll = rng.random()
    if roll < 0.15:
        del req["op"]
        return _err("bad_op", dumps(req, rng), rid, "bad_request")
    if roll < 0.5:
        req["op"] = rng.choice([1, None, [], {}, True, ["status"], {"op": "status"}, HUGE])
        return _err("bad_op", dumps(req, rng), rid, "bad_request")
    req["op"] = _unknown_op(rng)
    return _err("bad_op", dumps(req, rng), rid, "unknown_op")


def _unknown_op(rng: random.Random) -> str:
    """A string that is not one of the ops (near misses, case, controls, unicode, length)."""
    op = rng.choice(ALL_OPS)
    variants = [
        op.upper(), op + " ", " " + op, op.replace("_", "-"), op[:-1], op + "\x00", "",
        "\u0455tatus", op + "\ud800", "__class__", "rm -rf /", "x" * rng.randrange(100, 20000),
    ]  # fmt: skip
    return rng.choice([v for v in variants if v not in ALL_OPS])


def gen_bad_token(rng: random.Random, rid: Any) -> Message:
    """A read op whose ``token`` is not a string."""
    req = _valid(rng, rid)
    req["token"] = rng.choice([1, 0.5, True, [], ["t"], {}, {"token": "t"}, HUGE])
    return _err("bad_token", dumps(req, rng), rid, "bad_type")


def _field_case(rng: random.Random) -> tuple[str, dict[str, Any], str, list[Any], str]:
    """(op, valid fields, field to break, bad values, expected code): wrong types per field."""
    cases = [
        ("set_lr", {"value": 0.01}, "value", NOT_NUMBER, "bad_type"),
        ("set_lr", {"value": 0.01}, "group", NOT_INT, "bad_type"),
        ("set_lr", {"value": 0.01}, "mode", NOT_STR, "bad_type"),
        ("scale_lr", {"factor": 0.5}, "factor", NOT_NUMBER, "bad_type"),
        ("scale_lr", {"factor": 0.5}, "group", NOT_INT, "bad_type"),
        ("scale_lr", {"factor": 0.5}, "mode", NOT_STR, "bad_type"),
        ("unpin", {}, "group", NOT_INT, "bad_type"),
        ("subscribe", {}, "backlog", [*NOT_INT, None, "5"], "bad_type"),
        ("hello", {}, "v", ["1", 2, 0, -1, None, True, [1], 1.5, HUGE, "v1"], "bad_value"),
    ]
    return rng.choice(cases)


def gen_wrong_type(rng: random.Random, rid: Any) -> Message:
    """Every field of every op given a value of the wrong type (the rest valid)."""
    op, fields, key, bad, code = _field_case(rng)
    req = {"id": rid, "op": op, **fields, key: rng.choice(bad)}
    if rng.random() < 0.2 and key in fields:
        del req[key]  # a missing required number
    return _err("wrong_type", dumps(req, rng), rid, code)


def gen_bad_value(rng: random.Random, rid: Any) -> Message:
    """Numbers of the right type but refused: ≤ 0, NaN, ±Infinity, out of range, bad mode."""
    op = rng.choice(["set_lr", "scale_lr"])
    key, good = ("value", 0.01) if op == "set_lr" else ("factor", 0.5)
    roll = rng.random()
    req: dict[str, Any] = {"id": rid, "op": op, key: good}
    if roll < 0.4:
        req[key] = rng.choice([0, -0.0, -1, -1e-300, math.nan, math.inf, -math.inf, -5])
        code = "bad_value"
    elif roll < 0.6:
        req[key] = rng.choice([1e9, 1e300, 1e6] if op == "set_lr" else [1e-9, 1e9, 1e-4, 2e3])
        code = "out_of_range"
    elif roll < 0.8:
        req["group"] = rng.choice([-1, 1, 2, 2**63, -(2**63), HUGE, -HUGE])
        code = "out_of_range"
    else:
        req["mode"] = rng.choice(["", "PIN", "unpin", "rescale ", "pin\x00", "\u0440in"])
        code = "bad_value"
    line = dumps(req, rng)
    if rng.random() < 0.2 and code == "bad_value" and key in req and req[key] == math.inf:
        line = line.replace(b"Infinity", rng.choice([b"1e400", b"1E999", b"9" * 400 + b".0"]))
    return _err("bad_value", line, rid, code)


def gen_huge_int(rng: random.Random, rid: Any) -> Message:
    """Integers of 400+ digits where a number is read (and past the 4300-digit parsing cap)."""
    big = "1" + "0" * (rng.choice([400, 401, 1000, 4300]) - 1)
    head = f'{{"id":{json.dumps(rid)},"op":'
    roll = rng.random()
    if roll < 0.15:  # over Python's int-parsing cap: the JSON itself is refused
        line = f'{head}"set_lr","value":1{"0" * 5000}}}'
        return _err("huge_int", line.encode(), None, "bad_json")
    if roll < 0.3:
        line = f'{head}"subscribe","backlog":-{big}}}'
    else:
        op, key = rng.choice([("set_lr", "value"), ("scale_lr", "factor")])
        line = f'{head}"{op}","{key}":{rng.choice(["", "-"])}{big}}}'
    return _err("huge_int", line.encode(), rid, "bad_value")


def gen_deep_nesting(rng: random.Random, rid: Any) -> Message:
    """Nesting far past any recursion limit, at the top or inside a field; or harmlessly deep."""
    depth = rng.choice([2000, 10000, 30000])
    opener, closer = rng.choice([(b"[", b"]"), (b'{"a":', b"}")])
    deep = opener * depth + b"1" + closer * depth
    if len(deep) > MAX_LINE - 100:
        depth = (MAX_LINE - 100) // (len(opener) + len(closer))
        deep = opener * depth + b"1" + closer * depth
    roll = rng.random()
    if roll < 0.3:
        return Message("deep_nesting", deep, (None,), frozenset({"bad_json", "bad_request"}))
    head = b'{"id":%s,"op":"status","x":' % json.dumps(rid).encode()
    if roll < 0.8:
        return Message(
            "deep_nesting", head + deep + b"}", (None, rid), frozenset({"bad_json"}), ok=True
        )
    shallow = b"[" * 50 + b"{}" + b"]" * 50
    return _ok("deep_nesting", head + shallow + b"}", rid)


def gen_over_long(rng: random.Random, rid: Any) -> Message:
    """Lines over 64 KiB: padded requests, bare bytes, and a valid request hidden in the tail."""
    size = rng.choice([MAX_LINE + 1, MAX_LINE + 100, 100_000, 300_000, 1 << 20])
    roll = rng.random()
    if roll < 0.4:
        head = b'{"id":%s,"op":"status","pad":"' % json.dumps(rid).encode()
        line = head + b"x" * (size - len(head) - 2) + b'"}'
    elif roll < 0.7:
        line = bytes(rng.randrange(1, 256) for _ in range(64)).replace(b"\n", b"#") * (size // 64)
        line = b"#" + line
    else:  # the tail alone would be a valid request: it must not be obeyed
        tail = b'{"id":"smuggled-%s","op":"status"}' % str(rid).encode()
        line = b"x" * (4 * MAX_LINE * rng.choice([1, 2])) + tail
    return Message("over_long", line, (None,), frozenset({"too_long"}), multi=True)


def gen_invalid_utf8(rng: random.Random, rid: Any) -> Message:
    """Bytes that are not UTF-8 inside or around a valid request."""
    good = dumps(_valid(rng, rid), rng)
    bad = rng.choice([b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\x80"])
    where = rng.choice([good.find(b'"op"') + 6, 0, len(good), good.find(b":") + 1])
    return _err("invalid_utf8", good[:where] + bad + good[where:], None, "bad_json")


def gen_nul(rng: random.Random, rid: Any) -> Message:
    """NUL bytes: raw (refused) or escaped inside strings (an unknown op, or a valid id)."""
    good = dumps(_valid(rng, rid), rng)
    roll = rng.random()
    if roll < 0.5:
        where = rng.choice([0, len(good), good.find(b'"op"') + 6])
        return _err("nul", good[:where] + b"\x00" + good[where:], None, "bad_json")
    if roll < 0.75:
        req = {"id": rid, "op": "status\x00"}
        return _err("nul", dumps(req, rng), rid, "unknown_op")
    nid = f"nul\x00{rid}" if rng.random() < 0.5 else f"{rid}\ud800"
    return _ok("nul", dumps({"id": nid, "op": "status"}, rng), nid)


def gen_tiny_sends(rng: random.Random, rid: Any) -> Message:
    """A request split across many sends of 1-3 bytes: valid (ok) or refused."""
    chunk = rng.randint(1, 3)
    if rng.random() < 0.5:
        return _ok("tiny_sends", dumps(_valid(rng, rid), rng), rid, chunk=chunk)
    req = {"id": rid, "op": "set_lr", "value": -1}
    return _err("tiny_sends", dumps(req, rng), rid, "bad_value", chunk=chunk)


def gen_extras(rng: random.Random, rid: Any) -> Message:
    """A valid read op with garbage extra fields (which are ignored)."""
    req = _valid(rng, rid)
    pool: list[Any] = [HUGE, -HUGE, math.nan, math.inf, None, [], {"a": [1, {"b": None}]}, "é"]
    pool += ["x" * 5000, "\ud800", "\x00", 1e308, -0.0, True, [[[[[]]]]]]
    for _ in range(rng.randint(1, 6)):
        key = rng.choice(["", "op2", "__proto__", "ID", "\x00", "ключ", "k" * 300, "value"])
        req[key + str(rng.randrange(100))] = rng.choice(pool)
    if rng.random() < 0.3:
        req["token"] = rng.choice(["wrong", "", "x" * 1000])
    return _ok("extras", dumps(req, rng), rid)


def gen_spacing(rng: random.Random, rid: Any) -> Message:
    """Valid requests with odd whitespace: tabs, CR, a leading BOM (may be refused)."""
    good = dumps(_valid(rng, rid), rng)
    roll = rng.random()
    if roll < 0.7:
        pad = rng.choice([b" ", b"\t", b"\r", b" \t\r "])
        return _ok("spacing", pad + good + pad, rid)
    return Message("spacing", b"\xef\xbb\xbf" + good, (rid, None), frozenset({"bad_json"}), ok=True)


GENERATORS: list[Callable[[random.Random, Any], Message]] = [
    gen_invalid_json,
    gen_non_object,
    gen_bad_id,
    gen_bad_op,
    gen_bad_token,
    gen_wrong_type,
    gen_bad_value,
    gen_huge_int,
    gen_deep_nesting,
    gen_over_long,
    gen_invalid_utf8,
    gen_nul,
    gen_tiny_sends,
    gen_extras,
    gen_spacing,
]


def corpus(n: int, seed: int) -> list[Message]:
    """``n`` messages, cycling through every generator; the same for the same ``seed``."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        rid: Any = 10_000 + i if rng.random() < 0.5 else f"fz-{seed}-{i}"
        out.append(GENERATORS[i % len(GENERATORS)](rng, rid))
    return out
