"""Protocol validation: every bad request gets a precise error, garbage never raises otherwise."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrwatch import lrchange
from lrwatch.control import protocol as P
from lrwatch.lrchange import LRChange

LIMITS = P.Limits(lr_ceiling=1.0, factor_min=0.1, factor_max=10.0, n_groups=2)


def code_of(line: str | bytes) -> str:
    with pytest.raises(P.ProtocolError) as info:
        P.parse_request(line, LIMITS)
    return info.value.code


def test_valid_requests_are_normalised() -> None:
    req = P.parse_request('{"id": 1, "op": "set_lr", "value": 0.5}', LIMITS)
    assert (req.id, req.op, req.args) == (
        1,
        "set_lr",
        {"value": 0.5, "group": None, "mode": "rescale"},
    )
    req = P.parse_request(
        b'{"id": "a", "op": "scale_lr", "factor": 2, "group": 1, "mode": "pin"}', LIMITS
    )
    assert req.args == {"factor": 2.0, "group": 1, "mode": "pin"}
    assert P.parse_request('{"id": 2, "op": "subscribe"}', LIMITS).args == {"backlog": 1000}
    assert P.parse_request('{"id": 3, "op": "hello", "token": "t"}', LIMITS).token == "t"


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("not json", P.BAD_JSON),
        (b"\xff\xfe", P.BAD_JSON),
        ("[1, 2]", P.BAD_REQUEST),
        ('{"op": "status"}', P.BAD_REQUEST),  # no id
        ('{"id": true, "op": "status"}', P.BAD_REQUEST),
        ('{"id": 1}', P.BAD_REQUEST),
        ('{"id": 1, "op": "explode"}', P.UNKNOWN_OP),
        ('{"id": 1, "op": "set_lr"}', P.BAD_TYPE),
        ('{"id": 1, "op": "set_lr", "value": "0.1"}', P.BAD_TYPE),
        ('{"id": 1, "op": "set_lr", "value": true}', P.BAD_TYPE),
        ('{"id": 1, "op": "set_lr", "value": 0}', P.BAD_VALUE),
        ('{"id": 1, "op": "set_lr", "value": -0.1}', P.BAD_VALUE),
        ('{"id": 1, "op": "set_lr", "value": NaN}', P.BAD_VALUE),
        ('{"id": 1, "op": "set_lr", "value": Infinity}', P.BAD_VALUE),
        ('{"id": 1, "op": "set_lr", "value": 1e999}', P.BAD_VALUE),
        ('{"id": 1, "op": "set_lr", "value": 1.5}', P.OUT_OF_RANGE),  # above the ceiling
        ('{"id": 1, "op": "set_lr", "value": 0.1, "group": 2}', P.OUT_OF_RANGE),
        ('{"id": 1, "op": "set_lr", "value": 0.1, "group": -1}', P.OUT_OF_RANGE),
        ('{"id": 1, "op": "set_lr", "value": 0.1, "group": "0"}', P.BAD_TYPE),
        ('{"id": 1, "op": "set_lr", "value": 0.1, "mode": "warp"}', P.BAD_VALUE),
        ('{"id": 1, "op": "scale_lr", "factor": 100}', P.OUT_OF_RANGE),
        ('{"id": 1, "op": "scale_lr", "factor": 0.01}', P.OUT_OF_RANGE),
        ('{"id": 1, "op": "subscribe", "backlog": -1}', P.BAD_VALUE),
        ('{"id": 1, "op": "hello", "v": 2}', P.BAD_VALUE),
        ('{"id": 1, "op": "status", "token": 5}', P.BAD_TYPE),
        ("[" * 100_000, P.TOO_LONG),
        ("[" * 60_000, P.BAD_JSON),  # deep nesting: RecursionError is caught
        ('{"id": 1, "op": "set_lr", "value": ' + "1" * 5000 + "}", P.BAD_JSON),
    ],
)
def test_bad_requests_get_their_error_code(line: str | bytes, code: str) -> None:
    assert code_of(line) == code


def test_error_reply_keeps_the_request_id() -> None:
    with pytest.raises(P.ProtocolError) as info:
        P.parse_request('{"id": "x7", "op": "set_lr", "value": -1}', LIMITS)
    reply = info.value.reply()
    assert reply == {
        "id": "x7",
        "ok": False,
        "error": {"code": P.BAD_VALUE, "message": "'value' must be > 0"},
    }
    assert json.loads(P.encode(reply)) == reply


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300))
def test_garbage_bytes_only_raise_protocol_errors(line: bytes | str) -> None:
    try:
        P.parse_request(line, LIMITS)
    except P.ProtocolError as exc:
        assert exc.code in (P.BAD_JSON, P.BAD_REQUEST, P.UNKNOWN_OP)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(P.OPS),
    st.dictionaries(
        st.sampled_from(["id", "value", "factor", "group", "mode", "backlog", "token", "v"]),
        json_values,
    ),
)
def test_structured_garbage_is_validated_or_rejected(op: str, fields: dict) -> None:
    obj = {**fields, "op": op}
    try:
        req = P.validate(obj, LIMITS)
    except P.ProtocolError as exc:
        assert exc.code in {
            P.BAD_REQUEST,
            P.BAD_TYPE,
            P.BAD_VALUE,
            P.OUT_OF_RANGE,
        }
        return
    # Whatever passed is safe to apply.
    if op == "set_lr":
        assert 0 < req.args["value"] <= LIMITS.lr_ceiling
    if op == "scale_lr":
        assert LIMITS.factor_min <= req.args["factor"] <= LIMITS.factor_max
    if req.args.get("group") is not None:
        assert 0 <= req.args["group"] < LIMITS.n_groups


def test_change_requests_carry_their_lr_change() -> None:
    req = P.parse_request('{"id": 1, "op": "scale_lr", "factor": 2, "group": 1}', LIMITS)
    assert req.change == LRChange.scale(2.0, 1, "rescale") and req.change.record_op == "scale"
    req = P.parse_request('{"id": 2, "op": "set_lr", "value": 0.5, "mode": "pin"}', LIMITS)
    assert req.change == LRChange.set(0.5, None, "pin")
    assert P.parse_request('{"id": 3, "op": "unpin"}', LIMITS).change == LRChange.unpin()
    assert P.parse_request('{"id": 4, "op": "pause"}', LIMITS).change is None
    # One definition of the change ops and modes, in the order hello lists them.
    assert P.CHANGE_OPS[:3] == lrchange.OPS
    assert P.CHANGE_OPS[3:] == ("pause", "resume", "rewind")
    assert P.MODES is lrchange.MODES
    assert P.OPS[4:7] == ("set_lr", "scale_lr", "unpin")
