"""Run names: readable, unique, stable."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from lrwatch.sources.naming import (
    RunNamer,
    candidate,
    distinguishing,
    is_binary_name,
    is_log_name,
)
from lrwatch.sources.runset import RunSet


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


def test_shared_directories_are_skipped_and_a_later_clash_is_told_apart() -> None:
    namer = RunNamer()
    a = "/t/expA/lightning_logs/version_0/metrics.csv"
    b = "/t/expB/lightning_logs/version_0/metrics.csv"
    assert namer.assign([a]) == {a: "version_0"}
    # Found in a later scan: version_0 keeps its name, the newcomer names what differs.
    assert namer.assign([b]) == {b: "expB/version_0"}
    assert distinguishing("/x/a/v0/m.csv", ["/x/b/v0/m.csv", "/y/a/v0/m.csv"]) == "x/a/m"
    assert distinguishing("/x/b/v0/metrics.csv", ["/x/a/v0/metrics.csv"]) == "b/v0"
    # A name a run claimed (MLflow's run_name) is not given twice.
    namer.claim("run")
    assert namer.assign(["/q/run.log"]) == {"/q/run.log": "q/run"}


def _experiment(root: Path, name: str) -> None:
    """A real Lightning fit in its own process (CSVLogger + TensorBoardLogger)."""
    script = Path(__file__).with_name("scripts") / "lightning_experiment.py"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    subprocess.run([sys.executable, str(script), str(root), name], check=True, env=env)


def _names_after_polls(runs: RunSet, count: int) -> list[str]:
    """Poll (which rescans) until ``count`` runs are found; a deadline, not a sleep count."""
    deadline = time.monotonic() + 60
    while len(runs.sources) < count:
        assert time.monotonic() < deadline, sorted(runs.sources)
        runs.scan()
        dict(runs.poll())
        time.sleep(0.05)
    return sorted(runs.sources)


def test_lightning_experiments_are_named_by_the_directory_that_differs(tmp_path: Path) -> None:
    _experiment(tmp_path, "expA")
    runs = RunSet(follow=True)
    runs.watch_dir(str(tmp_path))
    first = _names_after_polls(runs, 2)
    # One experiment: its CSV and its TensorBoard run (Lightning puts them in two versions).
    assert first == ["version_0", "version_1"], first
    _experiment(tmp_path, "expB")
    names = _names_after_polls(runs, 4)
    assert names == ["expB/version_0", "expB/version_1", "version_0", "version_1"], names
    # Both experiments read at once (`lrwatch inspect DIR`, `watch DIR`): the two experiments.
    out = subprocess.run(
        [sys.executable, "-m", "lrwatch", "inspect", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    shown = [line.split()[1] for line in out.splitlines() if line.startswith("run ")]
    assert shown == ["expA/version_0", "expA/version_1", "expB/version_0", "expB/version_1"]
