"""Run names: readable, unique, stable."""

from __future__ import annotations

from lrwatch.sources.naming import RunNamer, candidate, is_binary_name, is_log_name


def test_file_stem_or_parent_for_generic_names() -> None:
    assert candidate("/x/nanogpt_healthy.log", 0) == "nanogpt_healthy"
    assert candidate("/x/lightning_logs/version_3/metrics.csv", 0) == "version_3"
    assert candidate("/out/run7/trainer_state.json", 0) == "run7"
    assert candidate("/tb/run2/events.out.tfevents.1700000000.host.12.0", 0) == "run2"
    assert candidate("/x/lightning_healthy.tfevents", 0) == "lightning_healthy"


def test_duplicates_take_parent_directories_then_a_counter() -> None:
    namer = RunNamer()
    names = namer.assign(["/a/version_0/metrics.csv", "/b/version_0/metrics.csv", "/a/run.log"])
    assert names == {
        "/a/version_0/metrics.csv": "a/version_0",
        "/b/version_0/metrics.csv": "b/version_0",
        "/a/run.log": "run",
    }
    # A later file that clashes gets a longer name; names already given stay as they are.
    later = namer.assign(["/c/run.log"])
    assert later == {"/c/run.log": "c/run"}
    assert namer.taken == {"a/version_0", "b/version_0", "run", "c/run"}
    assert namer.assign(["-"]) == {"-": "stdin"}


def test_same_name_everywhere_gets_a_counter() -> None:
    namer = RunNamer()
    first = namer.assign(["/run.log"])
    second = namer.assign(["/run.log"])
    assert first["/run.log"] == "run"
    assert second["/run.log"] == "run#2"


def test_which_files_are_logs() -> None:
    for name in (
        "train.log",
        "metrics.csv",
        "trainer_state.json",
        "events.out.tfevents.1.h",
        "x.jsonl",
        "nohup.out",
    ):
        assert is_log_name(name), name
    for name in ("model.pt", "config.json", "hparams.yaml", ".hidden.log", "weights.safetensors"):
        assert not is_log_name(name), name
    assert is_binary_name("ckpt.pt") and not is_binary_name("x.log")
