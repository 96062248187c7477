"""Format detection by file name and content."""

from __future__ import annotations

import pytest

from lrwatch.formats import FORMATS, detect

from .helpers import fixture


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("hf_trainer_console.log", "hf"),
        ("hf_trainer_sgd_lr5.stdout", "hf"),
        ("hf_trainer_state.json", "hf_state"),
        ("lightning_healthy.tfevents", "tfevents"),
        ("lightning_healthy_metrics.csv", "csv"),
        ("lightning_sgd_lr8_nan_metrics.csv", "csv"),
        ("nanogpt_healthy.log", None),
    ],
)
def test_fixtures_by_content_alone(name: str, fmt: str | None) -> None:
    assert detect("unnamed", fixture(name)[:65536]) == fmt


def test_names_decide_first() -> None:
    assert detect("runs/x/events.out.tfevents.1700000000.host.1.0", b"") == "tfevents"
    assert detect("out/checkpoint-500/trainer_state.json", b"{") == "hf_state"
    assert detect("logs/metrics.csv", b"") == "csv"
    assert detect("run.jsonl", b"") == "jsonl"


def test_jsonl_and_text_by_content() -> None:
    assert detect("log", b'{"kind": "run", "v": 1}\n{"step": 1, "loss": 2.0}\n') == "jsonl"
    assert detect("log", b'{"step": 1, "loss": NaN}\n') == "jsonl"
    assert detect("log", b"hello world\nstep 1: loss 2\n") is None
    assert detect("log", b"") is None
    assert detect("log", b"\x00\x01\x02\x03" * 10) is None


def test_every_detected_format_has_a_parser() -> None:
    assert {"jsonl", "hf", "hf_state", "csv", "text", "tfevents", "wandb"} == set(FORMATS)


def test_csv_with_only_its_header_written_yet() -> None:
    assert detect("log", b"epoch,lr,step,train_loss\n") == "csv"
    assert detect("log", b"name,value\n") is None
