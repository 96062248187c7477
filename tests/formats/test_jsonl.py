"""lrwatch JSONL and generic JSONL: schema, NaN tokens, inferred steps, fast and slow paths."""

from __future__ import annotations

import math
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from lrwatch.formats import make_parser
from lrwatch.formats.jsonl import JsonlParser, patch_tokens
from lrwatch.records import NameMap, encode_metrics

from .helpers import canon, events, feed_all, metrics, random_sizes, series

HEADER = (
    b'{"kind": "run", "v": 1, "run": "demo", "t": 1732890000.0, "control": "unix:/tmp/x.sock",'
    b' "pid": 42, "host": "h", "optimizer": "AdamW", "lr": [0.001, 0.0001], "world_size": 1}\n'
)


def _log(n: int, t0: float = 1732890000.0) -> bytes:
    lines = [encode_metrics(i, {"loss": 1.0 / (i + 1), "lr": 1e-3}, t0 + i) for i in range(n)]
    return HEADER + ("\n".join(lines) + "\n").encode()


def test_lrwatch_log_header_metrics_events() -> None:
    data = _log(3) + (
        b'{"kind": "lr_change", "step": 3, "old": [0.001], "new": [0.0005], "mode": "rescale",'
        b' "by": "cli", "id": "c1", "t": 1732890003.5}\n'
        b'{"kind": "end", "status": "finished", "t": 1732890004.0}\n'
    )
    p = JsonlParser()
    recs = feed_all(p, data)
    run = events(recs, "run")[0]
    assert run.data["control"] == "unix:/tmp/x.sock" and run.data["lr"] == [0.001, 0.0001]
    assert run.t == 1732890000.0
    assert series(recs, "loss") == [(0, 1.0), (1, 0.5), (2, 1.0 / 3)]
    assert [m.t for m in metrics(recs)] == [1732890000.0, 1732890001.0, 1732890002.0]
    change = events(recs, "lr_change")[0]
    assert change.step == 3 and change.data["new"] == [0.0005] and change.data["id"] == "c1"
    assert events(recs, "end")[0].data["status"] == "finished"
    assert p.skipped == 0 and not p.steps_inferred


def test_nan_infinity_and_null_keep_the_record() -> None:
    data = (
        b'{"step": 1, "loss": NaN, "lr": 0.1}\n'
        b'{"step": 2, "loss": Infinity, "grad_norm": -Infinity}\n'
        b'{"step": 3, "loss": null, "lr": 0.1}\n'
        b'{"step": 4, "loss": nan, "grad_norm": -inf}\n'
        b'{"step": 5, "loss": 1.5, "note": "NaN seen at step 4"}\n'
    )
    recs = feed_all(JsonlParser(), data)
    ms = metrics(recs)
    assert [m.step for m in ms] == [1, 2, 3, 4, 5]
    assert math.isnan(ms[0].values["loss"]) and ms[0].values["lr"] == 0.1
    assert ms[1].values == {"loss": math.inf, "grad_norm": -math.inf}
    assert math.isnan(ms[2].values["loss"])
    assert math.isnan(ms[3].values["loss"]) and ms[3].values["grad_norm"] == -math.inf
    assert ms[4].values == {"loss": 1.5}


def test_nan_tokens_in_a_big_block_take_the_fast_path_after_patching() -> None:
    lines = [encode_metrics(i, {"loss": math.nan if i % 3 else 1.0}) for i in range(5000)]
    p = JsonlParser()
    recs = feed_all(p, ("\n".join(lines) + "\n").encode(), [70_000])
    assert len(recs) == 5000 and p.skipped == 0
    assert sum(math.isnan(m.values["loss"]) for m in metrics(recs)) == 3333


def test_patch_tokens_touches_only_bare_tokens() -> None:
    line = b'{"a": NaN, "b": -Infinity, "c": "NaN inside", "nanx": 1}'
    assert patch_tokens(line) == b'{"a": "NaN", "b": "-Infinity", "c": "NaN inside", "nanx": 1}'
    assert patch_tokens(b'{"a": 1}') == b'{"a": 1}'


def test_generic_jsonl_step_keys_and_inferred_steps() -> None:
    data = (
        b'{"global_step": 10, "train_loss": 2.0, "learning_rate": 0.01}\n'
        b'{"iter": 11, "train/loss": 1.9, "time": 21.5}\n'
        b'{"loss": 1.8}\n'
        b'{"loss": 1.7, "phase": "train"}\n'
    )
    p = JsonlParser()
    recs = feed_all(p, data)
    ms = metrics(recs)
    assert [(m.step, m.step_inferred) for m in ms] == [
        (10, False),
        (11, False),
        (12, True),
        (13, True),
    ]
    assert ms[0].values == {"loss": 2.0, "lr": 0.01}
    # "time" of 21.5 is a duration (ms per step), not a wall time: it stays a metric.
    assert ms[1].values == {"loss": 1.9, "time": 21.5} and ms[1].t is None
    assert p.steps_inferred


def test_file_with_no_steps_numbers_records_from_zero() -> None:
    p = JsonlParser()
    recs = feed_all(p, b'{"loss": 3}\n{"loss": 2}\n{"loss": 1}\n')
    assert series(recs, "loss") == [(0, 3.0), (1, 2.0), (2, 1.0)]
    assert all(m.step_inferred for m in metrics(recs))


def test_nested_objects_are_flattened_and_user_aliases_apply() -> None:
    names = NameMap({"objective": "loss"})
    recs = feed_all(
        JsonlParser(names), b'{"step": 1, "train": {"loss": 2.5}, "objective": 9, "ok": true}\n'
    )
    # "objective" comes after "train/loss" and wins the canonical name; bools are not metrics.
    assert metrics(recs)[0].values == {"loss": 9.0}


def test_malformed_lines_are_counted_not_raised() -> None:
    data = (
        b'{"step": 1, "loss": 1.0}\n'
        b"not json at all\n"
        b"[1, 2, 3]\n"
        b'{"step": 2, "loss": \n'
        b'{"msg": "no numbers here"}\n'
        b'{"kind": 5}\n'
        b"\xff\xfe\x00garbage\n"
        b"\n"
        b'{"step": 3, "loss": 0.5}\n'
    )
    p = JsonlParser()
    recs = feed_all(p, data)
    assert series(recs, "loss") == [(1, 1.0), (3, 0.5)]
    assert p.skipped == 6


def test_partial_last_line_is_held_until_flush() -> None:
    p = JsonlParser()
    assert p.feed(b'{"step": 1, "loss": 1.0}\n{"step": 2, "lo') != []
    assert p.feed(b'ss": 0.5}') == []
    recs = p.flush()
    assert series(recs, "loss") == [(2, 0.5)]


def test_megabyte_line_is_skipped_in_any_chunking() -> None:
    big = b'{"step": 5, "x": "' + b"a" * (1 << 20) + b'"}\n'
    data = b'{"step": 1, "loss": 1.0}\n' + big + b'{"step": 2, "loss": 2.0}\n'
    for sizes in (None, [4096], [1 << 19], random_sizes(3, hi=300_000)):
        p = JsonlParser()
        recs = feed_all(p, data, sizes)
        assert series(recs, "loss") == [(1, 1.0), (2, 2.0)], sizes
        assert p.skipped == 1, sizes


def test_restart_resets_inferred_steps() -> None:
    p = JsonlParser()
    feed_all(p, b'{"loss": 1}\n{"loss": 2}\n')
    p.restart()
    recs = p.feed(b'{"loss": 5}\n')
    assert series(recs, "loss") == [(0, 5.0)]


def test_fast_path_and_general_path_agree() -> None:
    data = _log(3000)
    mixed = data + b'{"step": 3000, "loss": 1, "extra": null}\n' + _log(50)[len(HEADER) :]
    whole = feed_all(JsonlParser(), mixed)
    tiny = feed_all(JsonlParser(), mixed, random_sizes(1, hi=90))
    assert canon(whole) == canon(tiny)
    assert len(metrics(whole)) == 3051


def test_make_parser_names_valid_formats() -> None:
    assert isinstance(make_parser("jsonl"), JsonlParser)
    try:
        make_parser("yaml")
    except ValueError as exc:
        assert "jsonl" in str(exc) and "yaml" in str(exc)
    else:
        raise AssertionError("unknown format accepted")


_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.integers(-(10**6), 10**6),
    st.none(),
)
_records = st.lists(
    st.dictionaries(st.sampled_from(["loss", "lr", "val_loss", "acc"]), _values, min_size=1),
    min_size=1,
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(_records, st.lists(st.integers(1, 64), min_size=1, max_size=20))
def test_chunking_never_changes_records(rows: list[dict], sizes: list[int]) -> None:
    data = (
        "\n".join(
            encode_metrics(i, {k: math.nan if v is None else v for k, v in r.items()})
            for i, r in enumerate(rows)
        )
        + "\n"
    ).encode()
    assert canon(feed_all(JsonlParser(), data)) == canon(feed_all(JsonlParser(), data, sizes))
    assert len(feed_all(JsonlParser(), data, sizes)) == len(rows)


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(1, 50), min_size=1, max_size=10))
def test_arbitrary_bytes_never_raise(data: bytes, sizes: list[int]) -> None:
    p = JsonlParser(max_line=64)
    recs = feed_all(p, data, sizes)
    again = JsonlParser(max_line=64)
    assert canon(feed_all(again, data)) == canon(recs)
    assert p.skipped == again.skipped
    assert p.skipped >= 0 and all(hasattr(r, "step") for r in recs)


def test_real_world_keys_map_to_canonical_names() -> None:
    line = (
        b'{"trainer/global_step": 7, "train/loss": 2.0, "Loss/Validation": 2.5,'
        b' "lr-AdamW": 0.001, "lr-AdamW/pg1": 0.0001, "grad_2.0_norm_total": 1.5,'
        b' "lr-SGD-momentum": 0.9}\n'
    )
    (m,) = metrics(feed_all(JsonlParser(), line))
    assert m.step == 7
    assert m.values == {
        "loss": 2.0,
        "val_loss": 2.5,
        "lr": 0.001,
        "lr/pg1": 0.0001,
        "grad_norm": 1.5,
        "lr-SGD-momentum": 0.9,
    }


def test_lines_without_values_are_skipped_on_every_path() -> None:
    beat = b'{"step": 1, "t": 1732890000.0}\n'
    p = JsonlParser()
    recs = feed_all(p, beat * 3 + b'{"step": 2, "loss": 1.0}\n', [len(beat)])
    assert series(recs, "loss") == [(2, 1.0)] and len(recs) == 1 and p.skipped == 3


_LINES = [
    b'{"step": 1, "t": 1732890000.0, "loss": 1.5, "lr": 0.1}',
    b'{"step": 2, "t": 1732890001.0, "loss": NaN, "lr": 0.1}',
    b'{"step": 3, "t": 1732890002.0, "val_loss": 1.2}',
    b'{"step": 4, "t": 5.0, "loss": 1}',
    b'{"step": 5.0, "loss": true, "lr": "0.2"}',
    b'{"step": 6, "t": 1732890003.0}',
    b'{"kind": "lr_change", "step": 7, "old": [0.1], "new": [0.05]}',
    b'{"loss": null, "train_loss": 2}',
    b'{"step": -3, "loss": 1.0}',
    b"garbage",
    b"",
]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(_LINES), min_size=1, max_size=40),
    st.lists(st.integers(1, 120), min_size=1, max_size=10),
)
def test_mixed_lines_same_records_in_any_chunking(lines: list[bytes], sizes: list[int]) -> None:
    data = b"\n".join(lines) + b"\n"
    whole, chunked = JsonlParser(), JsonlParser()
    assert canon(feed_all(whole, data)) == canon(feed_all(chunked, data, sizes))
    assert whole.skipped == chunked.skipped


def test_mixed_train_and_eval_lines_fast_path_matches_general_path() -> None:
    t0 = 1732890000.0
    lines = []
    for i in range(4000):
        lines.append(encode_metrics(i, {"loss": 1 / (i + 1), "lr": 0.1, "grad_norm": 0.5}, t0 + i))
        if i % 50 == 0:
            lines.append(encode_metrics(i, {"val_loss": 2.0, "val_acc": 0.5}, t0 + i))
        if i % 777 == 0:
            lines.append(encode_metrics(i, {"loss": math.nan, "lr": 0.1}, t0 + i))
    data = ("\n".join(lines) + "\n").encode()
    whole = JsonlParser()  # one block: the general path only
    chunked = JsonlParser()  # learns the key sets, then reads typed rows
    a, b = feed_all(whole, data), feed_all(chunked, data, [20_000])
    assert canon(a) == canon(b) and len(a) == len(lines)
    assert whole.skipped == chunked.skipped == 0
    assert chunked._rows is not None  # the fast path was built and kept
    assert series(b, "val_loss")[1] == (50, 2.0)


def test_huge_integer_costs_nothing_but_its_value_in_any_chunking() -> None:
    """An int of 400 digits (msgspec keeps it) under a step key made float() raise in the
    general path, and the parser dropped the whole block: fed whole, every line of the file
    was lost; fed line by line, only that one (fuzz 717). As a step it is no step (one is
    inferred); as a value it is inf."""
    big = b"1" + b"0" * 400
    data = b"".join(
        [
            b'{"iteration": 1, "loss": 1.5}\n',
            b'{"iteration": ' + big + b', "loss": 2.5, "lr": -' + big + b"}\n",
            b'{"iteration": 3, "loss": 3.5}\n',
        ]
    )
    whole = JsonlParser()
    recs = feed_all(whole, data)
    assert [(m.step, m.values["loss"]) for m in metrics(recs)] == [(1, 1.5), (2, 2.5), (3, 3.5)]
    assert metrics(recs)[1].values["lr"] == -math.inf and whole.skipped == 0
    for sizes in ([1], [31], random_sizes(5)):
        p = JsonlParser()
        assert canon(feed_all(p, data, sizes)) == canon(recs) and p.skipped == 0


def test_a_huge_integer_value_with_a_valid_step_is_a_float(tmp_path) -> None:
    # With a valid step the line took the fast path, which kept the 400-digit Python int;
    # the store and the rules then raised OverflowError (inspect and diagnose crashed).
    big = b"1" + b"0" * 400
    data = (
        b'{"step": 1, "loss": 0.5}\n{"step": 2, "loss": ' + big + b'}\n{"step": 3, "loss": 0.4}\n'
    )
    recs = metrics(feed_all(JsonlParser(), data))
    assert [type(m.values["loss"]) for m in recs] == [float, float, float]
    assert recs[1].values["loss"] == math.inf
    log = tmp_path / "big.jsonl"
    log.write_bytes(data)
    res = subprocess.run(
        [sys.executable, "-m", "lrwatch", "diagnose", str(log)], capture_output=True, text=True
    )
    assert "Traceback" not in res.stderr and "nan_inf" in res.stdout


def test_a_pretty_printed_object_is_no_record_however_the_log_is_read() -> None:
    """msgspec's decode_lines takes a value spread over lines; JSONL is one record a line.
    Read whole, the object below was a record; fed in chunks, its lines were not (found by
    the fuzz tests: a spliced log's records depended on where the reads ended)."""
    blob = (
        b'{"step": 1, "loss": 2.0}\n{\n  "step": 200,\n  "loss": 3.2\n}\n{"step": 2, "loss": 1.5}\n'
    )
    whole = feed_all(make_parser("jsonl"), blob)
    assert [r.step for r in metrics(whole)] == [1, 2]
    for sizes in ([1], [3], [7], [40]):
        assert canon(feed_all(make_parser("jsonl"), blob, sizes)) == canon(whole)


def test_a_key_the_fast_path_cannot_name_costs_no_line() -> None:
    """A key written ``"it\\r"`` (valid JSON: a carriage return in the name) made the typed
    row decoder raise when it learned the key set, and the whole block was lost: read
    whole, the good line before it too (fuzz, seed 7). The line is read on the general path."""
    data = (
        b'{"lr": 1.0, "loss": NaN, "step": 15}\n'
        b'{"lr": 1.0, "loss": NaN, "it\\r": 20, "step": 20}\n'
        b'{"lr": 1.0, "loss": 0.5, "a\\"b": 1, "step": 25}\n'
    )
    whole = JsonlParser()
    recs = metrics(feed_all(whole, data))
    assert [r.step for r in recs] == [15, 20, 25] and whole.skipped == 0
    assert recs[1].values["it\r"] == 20 and recs[2].values['a"b'] == 1
    for sizes in ([1], [9], random_sizes(3)):
        p = JsonlParser()
        assert canon(feed_all(p, data, sizes)) == canon(recs) and p.skipped == 0


def test_an_integer_time_is_a_float_on_every_path() -> None:
    """``"t": 16039965152740479`` (an int) stayed an int on one path, became a float on the
    other: the records a log gave depended on where the reads ended (fuzz, seed 7)."""
    lines = [b'{"step": %d, "loss": 1.5, "t": %d}' % (i, 1_700_000_000 + i) for i in range(40)]
    data = b"\n".join(lines) + b"\n"
    for sizes in (None, [1], [50], random_sizes(6)):
        recs = metrics(feed_all(JsonlParser(), data, sizes))
        assert len(recs) == 40 and {type(r.t) for r in recs} == {float}, sizes
