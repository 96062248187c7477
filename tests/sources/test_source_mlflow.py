"""MLflow's file store (``mlruns/``) read without mlflow: files written by the real library."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from srchelp import DEADLINE

from lrwatch.records import Event, Metrics, NameMap
from lrwatch.sources import RunSet, open_runs
from lrwatch.sources.mlflow import MlflowRunSource, merge_steps, read_meta

NAN = float("nan")

#: What the writer logs: run -> metric key -> [(step, value)]. ``alpha`` has a NaN loss, an
#: eval loss every 3 steps and keys with '/' (subdirectories); ``alpha`` again in another
#: experiment (a name clash); ``beta`` ends FAILED.
RUNS: list[dict[str, Any]] = [
    {
        "experiment": "exp-a",
        "name": "alpha",
        "status": "FINISHED",
        "metrics": {
            "train_loss": [(s, NAN if s == 5 else 2.0 - 0.1 * s) for s in range(10)],
            "val_loss": [(s, 1.5 - 0.05 * s) for s in range(0, 10, 3)],
            "lr": [(s, 0.1 * 0.9**s) for s in range(10)],
            "train/grad_norm": [(s, 0.5 + s) for s in range(10)],
            "sys/gpu/util": [(s, 90.0) for s in (0, 9)],
        },
    },
    {
        "experiment": "exp-a",
        "name": "beta",
        "status": "FAILED",
        "metrics": {"loss": [(s, 3.0 / (s + 1)) for s in range(5)], "lr": [(0, 1e-3)]},
    },
    {
        "experiment": "exp-b",
        "name": "alpha",
        "status": "FINISHED",
        "metrics": {"train_loss": [(s, 1.0) for s in (0, 100, 200)]},
    },
]

#: Logs RUNS with mlflow (argv: tracking dir, RUNS as JSON); prints {run_id: name}.
WRITER = """
import json, sys
import mlflow
root, runs = sys.argv[1], json.loads(sys.argv[2])
mlflow.set_tracking_uri("file:" + root)
ids = {}
for run in runs:
    mlflow.set_experiment(run["experiment"])
    active = mlflow.start_run(run_name=run["name"])
    steps = sorted({s for points in run["metrics"].values() for s, _ in points})
    for step in steps:
        values = {k: v for k, pts in run["metrics"].items() for s, v in pts if s == step}
        mlflow.log_metrics(values, step=step)
    mlflow.end_run(status=run["status"])
    ids[active.info.run_id] = run["name"]
print(json.dumps(ids))
"""


def _expected(run: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """step -> {canonical name: value} (NaN as the string "nan", so it compares equal)."""
    names = NameMap()
    out: dict[int, dict[str, Any]] = {}
    for key, points in run["metrics"].items():
        for step, value in points:
            out.setdefault(step, {})[names(key)] = "nan" if math.isnan(value) else value
    return out


def _by_step(records: list[Any]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for r in records:
        if isinstance(r, Metrics):
            assert r.step not in out, f"step {r.step} split over two records"
            out[r.step] = {k: "nan" if math.isnan(v) else v for k, v in r.values.items()}
    return out


@pytest.fixture(scope="module")
def mlruns(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """An mlruns directory written by the real mlflow (in a subprocess), and {run_id: name}."""
    # The real client writes the store (in a subprocess); it is in the test extra.
    assert importlib.util.find_spec("mlflow"), "mlflow writes these files: pip install -e '.[test]'"
    root = tmp_path_factory.mktemp("mlflow") / "mlruns"
    # mlflow 3.x refuses the file store unless asked (it is in maintenance mode).
    env = {**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true"}
    out = subprocess.run(
        [sys.executable, "-c", WRITER, str(root), json.dumps(RUNS)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return root, json.loads(out.stdout.strip().splitlines()[-1])


def _read_all(runs: RunSet) -> dict[str, list[Any]]:
    got: dict[str, list[Any]] = {}
    deadline = time.monotonic() + DEADLINE
    while not runs.done:
        assert time.monotonic() < deadline, "not done in time"
        for name, records in runs.poll().items():
            got.setdefault(name, []).extend(records)
    return got


def test_real_mlflow_runs_read_value_for_value(mlruns: tuple[Path, dict[str, str]]) -> None:
    root, ids = mlruns
    runs = open_runs([str(root)], follow=False)
    try:
        got = _read_all(runs)
    finally:
        runs.close()
    # One run per MLflow run; the metric files (no suffix, in subfolders) are not runs too.
    assert sorted(runs.sources) == ["alpha", "alpha#2", "beta"]
    by_id = {os.path.basename(src.path): name for name, src in runs.sources.items()}
    assert sorted(by_id) == sorted(ids)
    for run_id, written_name in ids.items():
        name = by_id[run_id]
        assert name.split("#")[0] == written_name
        src = runs.sources[name]
        assert isinstance(src, MlflowRunSource) and src.format == "mlflow"
        assert src.skipped == 0 and not src.steps_inferred
        spec = next(
            r for r in RUNS if r["name"] == written_name and r["metrics"].keys() == set(src.keys)
        )
        assert _by_step(got[name]) == _expected(spec)
        steps = [r.step for r in got[name] if isinstance(r, Metrics)]
        assert steps == sorted(steps)
        assert all(r.t is not None and r.t > 1e9 for r in got[name] if isinstance(r, Metrics))
        (end,) = [r for r in got[name] if isinstance(r, Event)]
        assert end.kind == "end" and got[name][-1] is end
        assert end.data["status"] == ("crashed" if spec["status"] == "FAILED" else "finished")
        assert end.step == max(steps)


def test_an_experiment_or_run_directory_names_those_runs(
    mlruns: tuple[Path, dict[str, str]],
) -> None:
    root, ids = mlruns
    beta_id = next(i for i, n in ids.items() if n == "beta")
    (run_dir,) = root.glob(f"*/{beta_id}")
    assert read_meta(str(run_dir))["run_name"] == "beta"
    for path, names in ((run_dir, ["beta"]), (run_dir.parent, ["alpha", "beta"])):
        runs = open_runs([str(path)], follow=False)
        try:
            _read_all(runs)
            assert sorted(runs.sources) == names
        finally:
            runs.close()


def test_inspect_and_diagnose_json_end_to_end(mlruns: tuple[Path, dict[str, str]]) -> None:
    root, _ = mlruns
    cmd = [sys.executable, "-m", "lrwatch"]
    out = subprocess.run(
        [*cmd, "inspect", "--json", str(root)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    runs = {r["name"]: r for r in json.loads(out.stdout)["runs"]}
    assert sorted(runs) == ["alpha", "alpha#2", "beta"]
    alphas = [runs["alpha"], runs["alpha#2"]]
    alpha = next(r for r in alphas if "val_loss" in r["metrics"])
    assert alpha["format"] == "mlflow" and alpha["skipped_lines"] == 0
    assert alpha["steps"] == [0, 9] and alpha["events"] == {"end": 1}
    assert alpha["metrics"]["loss"]["count"] == 10 and alpha["metrics"]["loss"]["nonfinite"] == 1
    assert alpha["metrics"]["val_loss"]["count"] == 4
    assert alpha["metrics"]["grad_norm"]["last"] == 9.5  # train/grad_norm, a subfolder
    assert alpha["metrics"]["sys/gpu/util"]["count"] == 2
    assert runs["beta"]["metrics"]["loss"]["last"] == pytest.approx(0.6)
    out = subprocess.run(
        [*cmd, "diagnose", "--json", str(root)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode in (0, 1), out.stderr  # 1: findings (alpha's NaN loss)
    found = {r["name"]: r for r in json.loads(out.stdout)["runs"]}
    assert any(f["symptom"] == "nan_inf" for r in found.values() for f in r["findings"])


# -- live: a run directory that grows, written here in MLflow's line format ---------------


def _line(step: int, value: float) -> str:
    return f"{1_700_000_000_000 + step} {value} {step}\n"


def _append(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write(text)


def _meta(run_dir: Path, status: int) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "meta.yaml").write_text(
        f"artifact_uri: file:///x\nend_time: 1700000009000\nexperiment_id: '1'\n"
        f"lifecycle_stage: active\nrun_id: abc123\nrun_name: 'live: run'\n"
        f"start_time: 1700000000000\nstatus: {status}\ntags: []\nuser_id: me\n"
    )


class _Poller:
    """Polls a RunSet into one list per run; :meth:`until` waits on a condition, bounded."""

    def __init__(self, runs: RunSet) -> None:
        self.runs = runs
        self.records: dict[str, list[Any]] = {}

    def until(self, cond: Any, what: str) -> None:
        deadline = time.monotonic() + DEADLINE
        while True:
            for name, recs in self.runs.poll().items():
                steps = [r.step for r in recs if isinstance(r, Metrics)]
                assert steps == sorted(steps), f"a poll out of step order: {steps}"
                self.records.setdefault(name, []).extend(recs)
            if cond():
                return
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}")
            self.runs.wait(0.01)

    def values(self, name: str, metric: str) -> dict[int, float]:
        return {
            r.step: r.values[metric]
            for r in self.records.get(name, [])
            if isinstance(r, Metrics) and metric in r.values
        }


def test_live_run_grows_and_gains_a_metric_file(tmp_path: Path) -> None:
    run_dir = tmp_path / "mlruns" / "1" / "abc123"
    _meta(run_dir, status=1)
    metrics = run_dir / "metrics"
    _append(metrics / "train_loss", "".join(_line(s, 2.0 - s / 10) for s in range(3)))
    _append(metrics / "learning_rate", "".join(_line(s, 0.01) for s in range(3)))
    runs = open_runs([str(tmp_path / "mlruns")], follow=True)
    poll = _Poller(runs)
    try:
        poll.until(lambda: len(poll.values("live: run", "loss")) == 3, "the first lines")
        assert list(runs.sources) == ["live: run"]
        first = [r for r in poll.records["live: run"] if isinstance(r, Metrics)]
        assert [(r.step, sorted(r.values)) for r in first] == [
            (s, ["loss", "lr"]) for s in range(3)
        ]
        assert first[0].t == pytest.approx(1_700_000_000.0)

        # Appends, one of them torn in two writes (held back until its newline).
        _append(metrics / "train_loss", "".join(_line(s, 2.0 - s / 10) for s in range(3, 6)))
        _append(metrics / "learning_rate", _line(3, 0.005) + _line(4, 0.005)[:7])
        poll.until(lambda: 5 in poll.values("live: run", "loss"), "appended lines")
        assert 4 not in poll.values("live: run", "lr")
        _append(metrics / "learning_rate", _line(4, 0.005)[7:] + _line(5, 0.005))
        # A metric file that appears later, under a subfolder (key "train/grad_norm").
        _append(metrics / "train" / "grad_norm", "".join(_line(s, 1.0 + s) for s in range(6)))
        poll.until(lambda: len(poll.values("live: run", "grad_norm")) == 6, "the new file")
        assert poll.values("live: run", "lr") == {
            0: 0.01,
            1: 0.01,
            2: 0.01,
            3: 0.005,
            4: 0.005,
            5: 0.005,
        }

        # Malformed lines are counted, never raised; good lines around them still count.
        _append(metrics / "train_loss", "garbage\n1 2 3 4\n17 x 6\n" + _line(6, 1.3))
        src = runs.sources["live: run"]
        poll.until(lambda: src.skipped == 3 and 6 in poll.values("live: run", "loss"), "skips")

        # The run ends: one ``end`` event after its last metrics.
        _meta(run_dir, status=3)
        poll.until(
            lambda: any(isinstance(r, Event) for r in poll.records["live: run"]), "end event"
        )
    finally:
        runs.close()
    recs = poll.records["live: run"]
    assert isinstance(recs[-1], Event) and recs[-1].data["status"] == "finished"
    assert recs[-1].step == 6 and recs[-1].t == pytest.approx(1_700_000_009.0)
    assert poll.values("live: run", "loss")[5] == pytest.approx(1.5)


def test_a_run_directory_met_by_a_directory_watch_later(tmp_path: Path) -> None:
    (tmp_path / "train.log").write_text("step=1 loss=2.0\nstep=2 loss=1.5\n")
    runs = open_runs([str(tmp_path)], follow=True)
    poll = _Poller(runs)
    try:
        poll.until(lambda: "train" in poll.records, "the text log")
        run_dir = tmp_path / "mlruns" / "7" / "deadbeef"
        _meta(run_dir, status=1)
        (run_dir / "meta.yaml").write_text(
            (run_dir / "meta.yaml").read_text().replace("run_name: 'live: run'", "run_name: ''")
        )
        _append(run_dir / "metrics" / "loss", _line(0, 1.0))
        _append(run_dir / "metrics" / "notes.log", _line(0, 4.0))  # a key that looks like a log
        poll.until(lambda: "abc123" in poll.records, "the MLflow run, named by its id")
        poll.until(lambda: poll.values("abc123", "notes.log") == {0: 4.0}, "its values")
    finally:
        runs.close()
    assert sorted(runs.sources) == ["abc123", "train"]  # metrics/notes.log is not a run


def test_a_logged_model_and_a_deleted_run_are_not_runs(tmp_path: Path) -> None:
    exp = tmp_path / "1"
    model = exp / "models" / "m-1"
    model.mkdir(parents=True)
    (model / "meta.yaml").write_text("model_id: m-1\nname: model\n")
    _append(model / "metrics" / "loss", f"1700000000000 1.0 0 {'r' * 32}\n")
    gone = exp / "abc123"
    _meta(gone, status=3)
    (gone / "meta.yaml").write_text((gone / "meta.yaml").read_text().replace("active", "deleted"))
    _append(gone / "metrics" / "loss", _line(0, 1.0))
    runs = open_runs([str(tmp_path)], follow=True)
    try:
        assert runs.poll() == {} and runs.sources == {}
    finally:
        runs.close()


def test_meta_yaml_scalars_as_yaml_dump_writes_them(tmp_path: Path) -> None:
    long = "x" * 90 + " " + "y" * 30  # yaml.dump folds a long plain scalar onto the next line
    (tmp_path / "meta.yaml").write_text(
        f"end_time: null\nrun_id: r1\nrun_name: {long[:90]}\n  {long[91:]}\nstatus: 1\n"
        "tags:\n- key: a\n  value: b\nuser_id: 'it''s: me'\nsource_name: \"tab\\there\"\n"
    )
    meta = read_meta(str(tmp_path))
    assert meta["run_name"] == long and meta["status"] == "1" and meta["run_id"] == "r1"
    assert meta["user_id"] == "it's: me" and meta["source_name"] == "tab\there"
    assert read_meta(str(tmp_path / "missing")) == {}


def test_values_logged_without_a_step_are_not_overwritten() -> None:
    # log_metric without step= logs at step 0: the n-th values of each key go together.
    series = [
        ("loss", [(0, 3.0, 1_700_000_000_000), (0, 2.0, 1_700_000_001_000), (1, 1.0, 5)]),
        ("lr", [(0, 0.1, 1_700_000_000_500), (0, 0.2, 1_700_000_001_500)]),
    ]
    rows = merge_steps(series)
    assert [(r.step, r.values, r.t) for r in rows] == [
        (0, {"loss": 3.0, "lr": 0.1}, 1_700_000_000.5),
        (0, {"loss": 2.0, "lr": 0.2}, 1_700_000_001.5),
        (1, {"loss": 1.0}, None),  # 5 ms since the epoch is not a wall time
    ]


def test_metric_files_past_the_series_cap_are_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run with more metric files than a run keeps series: a file (and a descriptor) each
    for the first MAX_SERIES only, the rest counted (issue 17)."""
    import lrwatch.sources.mlflow as mlflow_source

    monkeypatch.setattr(mlflow_source, "MAX_SERIES", 3)
    run = tmp_path / "0" / "abc"
    (run / "metrics").mkdir(parents=True)
    (run / "meta.yaml").write_text("run_id: abc\nrun_name: capped\nstatus: 3\n")
    for i in range(5):
        (run / "metrics" / f"m{i}").write_text(f"1700000000000 {i}.5 1\n")
    src = MlflowRunSource(str(run), "capped", follow=False)
    recs = src.poll()
    assert src.keys == ["m0", "m1", "m2"] and src.files_refused == 2
    assert sorted(next(r for r in recs if isinstance(r, Metrics)).values) == ["m0", "m1", "m2"]
