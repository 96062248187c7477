"""``system`` records (Monitor(system_every=)) read as ``sys/`` metrics of their run: line by
line, in block mode among fast-path metric lines, from a subscribe stream; never a loss."""

from __future__ import annotations

import json

from lrwatch.formats.jsonl import JsonlParser
from lrwatch.losschoice import LossChooser, choose_train, choose_val, is_loss_name
from lrwatch.records import AnyRecord, Event, MetricBlock, Metrics, expand

SYSTEM = {
    "kind": "system",
    "step": 7,
    "t": 1_800_000_010.5,
    "cpu_percent": 103.5,
    "rss_mb": 812.4,
    "gpu0/util": 97.0,
    "gpu0/mem_used_mb": 40_111.0,
    "note": "not a number",
}
WANT = {
    "sys/cpu_percent": 103.5,
    "sys/rss_mb": 812.4,
    "sys/gpu0/util": 97.0,
    "sys/gpu0/mem_used_mb": 40_111.0,
}


def lines(*objs: dict[str, object]) -> bytes:
    return "".join(json.dumps(o) + "\n" for o in objs).encode()


def system_rows(records: list[AnyRecord]) -> list[Metrics]:
    return [r for r in expand(records) if isinstance(r, Metrics) and "sys/rss_mb" in r.values]


def test_a_system_record_is_sys_metrics_at_its_step() -> None:
    out = JsonlParser().feed(lines({"kind": "run", "v": 1, "run": "a"}, SYSTEM))
    assert isinstance(out[0], Event) and out[0].kind == "run"
    (rec,) = system_rows(out)
    assert (rec.step, rec.values, rec.t) == (7, WANT, 1_800_000_010.5)


def test_block_mode_among_metric_lines() -> None:
    metrics = [{"step": i, "t": 1_800_000_000.0 + i, "loss": 1.0 / (i + 1)} for i in range(5000)]
    objs: list[dict[str, object]] = []
    for i, m in enumerate(metrics):
        objs.append(m)
        if i % 1000 == 999:
            objs.append({**SYSTEM, "step": i})
    parser = JsonlParser(blocks=True)
    out = parser.feed(lines(*objs))
    assert any(isinstance(r, MetricBlock) for r in out)  # the fast path still runs
    rows = system_rows(out)
    assert [r.step for r in rows] == [999, 1999, 2999, 3999, 4999]
    losses = [r for r in expand(out) if "loss" in r.values]  # type: ignore[union-attr]
    assert len(losses) == 5000 and parser.skipped == 0


def test_no_step_takes_the_last_one_and_a_stream_reads_the_same() -> None:
    parser = JsonlParser()
    no_step = {k: v for k, v in SYSTEM.items() if k != "step"}
    out = parser.feed(lines({"step": 41, "loss": 2.0}, no_step))
    assert system_rows(out)[0].step == 41
    stream = JsonlParser().records_of([SYSTEM])
    assert system_rows(list(stream))[0].values == WANT
    empty = JsonlParser()
    assert empty.feed(lines({"kind": "system", "step": 1, "t": 1_800_000_000.0})) == []
    assert empty.skipped == 1


def test_sys_metrics_are_never_a_loss() -> None:
    names = ["sys/loss_scale_mb", "sys/gpu0/loss", "sys/val_loss_proxy"]
    assert not any(is_loss_name(n) for n in names)
    assert choose_train(names) is None and choose_val(names) is None
    chooser = LossChooser()
    recs: list[AnyRecord] = [Metrics(1, {"sys/gpu0/loss": 1.0}), Metrics(1, {"train/mse": 3.0})]
    chooser.apply(recs)
    assert chooser.train is None
    chooser.apply([Metrics(2, {"sys/x_loss": 1.0, "train_loss": 2.0})])
    assert chooser.train is not None and chooser.train.names == ("train_loss",)  # not a sum
