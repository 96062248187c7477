"""The lrwatch control protocol (version 1): messages, validation and replies.

One module shared by every transport (Unix socket, TCP, command file), so a request is judged
the same way whichever way it arrives. Requests and replies are newline-delimited JSON objects;
docs/protocol.md documents every op. Nothing here imports torch: the server thread only
validates and queues, the training thread applies.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from lrwatch.lrchange import MODES, LRChange
from lrwatch.lrchange import OPS as LR_OPS

PROTOCOL_VERSION = 1

#: Longest request line accepted, in bytes (newline excluded).
MAX_LINE = 64 * 1024

#: Ops answered on the server thread from a snapshot (no training-thread round trip).
READ_OPS = ("hello", "status", "history", "subscribe")
#: Ops queued to the training thread and answered once applied at a step boundary: the LR
#: changes (:data:`lrwatch.lrchange.OPS`, each validated into an :class:`LRChange`), pause
#: and resume, and ``rewind`` (restore a snapshot, optionally with an LR change).
CHANGE_OPS = (*LR_OPS, "pause", "resume", "rewind")
#: The ops that change an LR and nothing else (under torch.distributed they go through the
#: rank exchange).
LR_CHANGE_OPS = LR_OPS
#: Ops queued to the training thread like changes but changing nothing: ``schedule`` (the
#: LRs the run's scheduler will give, simulated on a copy of it).
FORECAST_OPS = ("schedule",)
#: Every op answered by the training thread (the server hands their replies over).
QUEUED_OPS = CHANGE_OPS + FORECAST_OPS
#: Ops answered at once that write to the run's log: ``note`` (who decided what, and why).
NOTE_OPS = ("note",)
OPS = READ_OPS + QUEUED_OPS + NOTE_OPS

#: Attribution a change (or note) may carry into the record it writes: who decided it
#: (``by``, e.g. ``autopilot``; the transport then goes to ``via``), the finding it answers
#: and why. Longest lengths in characters.
ATTRIBUTION = {"by": 32, "finding": 128, "reason": 300}
#: Longest ``note`` text, in characters.
MAX_NOTE = 1000
#: Largest ``schedule`` horizon (steps simulated) and number of points returned.
MAX_HORIZON = 100_000
MAX_POINTS = 2_000

# Error codes (docs/protocol.md lists them with their meaning).
BAD_JSON = "bad_json"
BAD_REQUEST = "bad_request"
UNKNOWN_OP = "unknown_op"
BAD_TYPE = "bad_type"
BAD_VALUE = "bad_value"
OUT_OF_RANGE = "out_of_range"
TOO_LONG = "too_long"
TOO_MANY_CLIENTS = "too_many_clients"
UNAUTHORIZED = "unauthorized"
BUSY = "busy"
TIMEOUT = "timeout"
CLOSED = "closed"
UNSUPPORTED = "unsupported"
REFUSED = "refused"


class ProtocolError(Exception):
    """A request that must be answered with an error reply (and change nothing)."""

    def __init__(self, code: str, message: str, req_id: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.req_id = req_id

    def reply(self) -> dict[str, Any]:
        """The error reply for this failure."""
        return error_reply(self.req_id, self.code, self.message)


@dataclass(slots=True)
class Limits:
    """What the run accepts: LR ceiling, factor range, number of param groups."""

    lr_ceiling: float = 10.0
    factor_min: float = 1e-3
    factor_max: float = 1e3
    n_groups: int = 1


@dataclass(slots=True)
class Request:
    """A validated request: ``op`` plus its normalised arguments.

    ``change`` is the :class:`LRChange` of a ``set_lr`` / ``scale_lr`` / ``unpin`` request (or
    the optional LR change of a ``rewind``), its ``group`` and ``mode`` filled in as validated
    (None for every other op). ``attribution``: the validated :data:`ATTRIBUTION` fields sent.
    """

    id: Any
    op: str
    args: dict[str, Any] = field(default_factory=dict)
    token: str | None = None
    change: LRChange | None = None
    attribution: dict[str, str] = field(default_factory=dict)


def ok_reply(req_id: Any, **data: Any) -> dict[str, Any]:
    """A success reply."""
    return {"id": req_id, "ok": True, **data}


def error_reply(req_id: Any, code: str, message: str) -> dict[str, Any]:
    """An error reply: ``{"id", "ok": false, "error": {"code", "message"}}``."""
    return {"id": req_id, "ok": False, "error": {"code": code, "message": message}}


def encode(message: dict[str, Any]) -> bytes:
    """One protocol line (with newline); NaN/Inf written as JSON tokens, never raising."""
    return (json.dumps(message, separators=(",", ":"), default=str) + "\n").encode()


def decode_line(line: bytes | str) -> dict[str, Any]:
    """Parse one line into a JSON object; :class:`ProtocolError` on anything else."""
    if len(line) > MAX_LINE:
        raise ProtocolError(TOO_LONG, f"request line longer than {MAX_LINE} bytes")
    try:
        text = line.decode() if isinstance(line, bytes) else line
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        # ValueError covers bad UTF-8, bad JSON and integers too long to convert.
        raise ProtocolError(BAD_JSON, f"invalid JSON: {str(exc)[:120]}") from None
    if not isinstance(obj, dict):
        raise ProtocolError(BAD_REQUEST, "a request must be a JSON object")
    return obj


def parse_request(line: bytes | str, limits: Limits) -> Request:
    """Decode and validate one request line against ``limits``."""
    return validate(decode_line(line), limits)


def validate(obj: dict[str, Any], limits: Limits) -> Request:
    """Validate a decoded request object; raises :class:`ProtocolError` with the reason."""
    req_id = obj.get("id")
    if not _valid_id(req_id):
        raise ProtocolError(BAD_REQUEST, "'id' must be a string (≤128 chars) or an integer")
    op = obj.get("op")
    if not isinstance(op, str):
        raise ProtocolError(BAD_REQUEST, "'op' must be a string", req_id)
    if op not in OPS:
        raise ProtocolError(UNKNOWN_OP, f"unknown op {op[:40]!r}; ops: {', '.join(OPS)}", req_id)
    token = obj.get("token")
    if token is not None and not isinstance(token, str):
        raise ProtocolError(BAD_TYPE, "'token' must be a string", req_id)
    try:
        args = _ARGS[op](obj, limits)
        attribution = _attribution(obj) if op in CHANGE_OPS + NOTE_OPS else {}
    except ProtocolError as exc:
        exc.req_id = req_id
        raise
    except Exception as exc:  # whatever a client sends gets a reply, never an exception
        raise ProtocolError(BAD_REQUEST, f"malformed {op}: {type(exc).__name__}", req_id) from None
    change = _lr_change(op, args)
    return Request(req_id, op, args, token, change, attribution)


def _lr_change(op: str, args: dict[str, Any]) -> LRChange | None:
    """The :class:`LRChange` of a validated change request (None for other ops)."""
    if op == "rewind":
        factor = args.get("scale_lr")
        return None if factor is None else LRChange.scale(factor, mode=args["mode"])
    if op not in LR_OPS:
        return None
    if op == "unpin":
        return LRChange.unpin(args["group"])
    return LRChange(
        op,
        factor=args.get("factor"),
        value=args.get("value"),
        group=args["group"],
        mode=args["mode"],
    )


def _valid_id(req_id: Any) -> bool:
    if isinstance(req_id, bool):
        return False
    if isinstance(req_id, int):
        return abs(req_id) < 2**63
    return isinstance(req_id, str) and len(req_id) <= 128


def _number(obj: dict[str, Any], key: str) -> float:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError(BAD_TYPE, f"'{key}' must be a number")
    try:
        value = float(value)
    except OverflowError:  # an integer of hundreds of digits
        raise ProtocolError(BAD_VALUE, f"'{key}' is too large to be a float") from None
    if not math.isfinite(value):
        raise ProtocolError(BAD_VALUE, f"'{key}' must be finite")
    if value <= 0:
        raise ProtocolError(BAD_VALUE, f"'{key}' must be > 0")
    return value


def _group(obj: dict[str, Any], limits: Limits) -> int | None:
    group = obj.get("group")
    if group is None:
        return None
    if isinstance(group, bool) or not isinstance(group, int):
        raise ProtocolError(BAD_TYPE, "'group' must be an integer or null")
    if not 0 <= group < limits.n_groups:
        raise ProtocolError(
            OUT_OF_RANGE, f"group {group} out of range: the optimizer has {limits.n_groups}"
        )
    return group


def _mode(obj: dict[str, Any]) -> str:
    mode = obj.get("mode", "rescale")
    if not isinstance(mode, str):
        raise ProtocolError(BAD_TYPE, "'mode' must be a string")
    if mode not in MODES:
        raise ProtocolError(BAD_VALUE, f"'mode' must be one of {', '.join(MODES)}")
    return mode


def _set_lr(obj: dict[str, Any], limits: Limits) -> dict[str, Any]:
    value = _number(obj, "value")
    if value > limits.lr_ceiling:
        raise ProtocolError(
            OUT_OF_RANGE, f"lr {value:g} is above this run's ceiling {limits.lr_ceiling:g}"
        )
    return {"value": value, "group": _group(obj, limits), "mode": _mode(obj)}


def _scale_lr(obj: dict[str, Any], limits: Limits) -> dict[str, Any]:
    factor = _number(obj, "factor")
    if not limits.factor_min <= factor <= limits.factor_max:
        raise ProtocolError(
            OUT_OF_RANGE,
            f"factor {factor:g} outside this run's range "
            f"[{limits.factor_min:g}, {limits.factor_max:g}]",
        )
    return {"factor": factor, "group": _group(obj, limits), "mode": _mode(obj)}


def _subscribe(obj: dict[str, Any], limits: Limits) -> dict[str, Any]:
    backlog = obj.get("backlog", 1000)
    if isinstance(backlog, bool) or not isinstance(backlog, int):
        raise ProtocolError(BAD_TYPE, "'backlog' must be an integer")
    if backlog < 0:
        raise ProtocolError(BAD_VALUE, "'backlog' must be ≥ 0")
    return {"backlog": backlog}


def _hello(obj: dict[str, Any], limits: Limits) -> dict[str, Any]:
    version = obj.get("v", PROTOCOL_VERSION)
    if version != PROTOCOL_VERSION or isinstance(version, bool):
        raise ProtocolError(BAD_VALUE, f"protocol version {version!r} not supported (want 1)")
    client = obj.get("client")
    return {"client": client[:80] if isinstance(client, str) else None}


def _unpin(obj: dict[str, Any], limits: Limits) -> dict[str, Any]:
    return {"group": _group(obj, limits), "mode": "unpin"}


def _no_args(obj: dict[str, Any], limits: Limits) -> dict[str, Any]:
    return {}


def _text(obj: dict[str, Any], key: str, longest: int, required: bool = False) -> str | None:
    """A string field of at most ``longest`` characters, without control characters."""
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise ProtocolError(BAD_TYPE, f"'{key}' must be a string")
    if not value.strip():
        raise ProtocolError(BAD_VALUE, f"'{key}' must not be empty")
    if len(value) > longest:
        raise ProtocolError(BAD_VALUE, f"'{key}' is longer than {longest} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ProtocolError(BAD_VALUE, f"'{key}' must not hold control characters")
    return value


def _attribution(obj: dict[str, Any]) -> dict[str, str]:
    """The :data:`ATTRIBUTION` fields a request carries (validated; absent ones left out)."""
    out = {}
    for key, longest in ATTRIBUTION.items():
        value = _text(obj, key, longest)
        if value is not None:
            out[key] = value
    by = out.get("by")
    if by is not None and not all(c.isalnum() or c in "_.:-" for c in by):
        raise ProtocolError(BAD_VALUE, "'by' may hold letters, digits and _ . : - only")
    return out


def _int(obj: dict[str, Any], key: str, low: int, high: int) -> int | None:
    """An optional integer field in ``[low, high]``."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(BAD_TYPE, f"'{key}' must be an integer")
    if not low <= value <= high:
        raise ProtocolError(OUT_OF_RANGE, f"'{key}' must be between {low} and {high}")
    return value


def _rewind(obj: dict[str, Any], limits: Limits) -> dict[str, Any]:
    back = _int(obj, "steps_back", 1, 2**53)
    to = _int(obj, "to_step", 0, 2**53)
    if (back is None) == (to is None):
        raise ProtocolError(BAD_REQUEST, "rewind takes one of 'steps_back' or 'to_step'")
    factor = None
    if obj.get("scale_lr") is not None:
        factor = _scale_lr({"factor": obj["scale_lr"]}, limits)["factor"]
    return {"steps_back": back, "to_step": to, "scale_lr": factor, "mode": _mode(obj)}


def _schedule(obj: dict[str, Any], limits: Limits) -> dict[str, Any]:
    points = _int(obj, "points", 2, MAX_POINTS)
    return {
        "horizon": _int(obj, "horizon", 1, MAX_HORIZON),
        "points": 200 if points is None else points,
    }


def _note(obj: dict[str, Any], limits: Limits) -> dict[str, Any]:
    return {"text": _text(obj, "text", MAX_NOTE, required=True)}


_ARGS = {
    "hello": _hello,
    "status": _no_args,
    "history": _no_args,
    "subscribe": _subscribe,
    "set_lr": _set_lr,
    "scale_lr": _scale_lr,
    "unpin": _unpin,
    "pause": _no_args,
    "resume": _no_args,
    "rewind": _rewind,
    "schedule": _schedule,
    "note": _note,
}
