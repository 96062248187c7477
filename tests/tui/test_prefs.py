"""Remembered views: keyed by the watched directory, atomic, never a crash (real files)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lrwatch.tui.prefs import ViewPrefs, dir_key, state_path


def test_state_path_follows_xdg_state_home(tmp_path: Path) -> None:
    assert state_path({"XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "lrwatch" / "views.json"
    home = os.path.expanduser("~")
    assert state_path({}) == Path(home) / ".local" / "state" / "lrwatch" / "views.json"


def test_dir_key_is_the_real_common_directory(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    (runs / "a").mkdir(parents=True)
    (runs / "b").mkdir()
    link = tmp_path / "link"
    link.symlink_to(runs)
    real = os.path.realpath(runs)
    assert dir_key([str(runs / "a" / "x.jsonl"), str(runs / "b" / "y.jsonl")]) == real
    assert dir_key([str(runs)]) == real
    assert dir_key([str(link / "a" / "x.jsonl"), str(link / "b" / "y.jsonl")]) == real
    assert dir_key([str(runs / "*" / "log.jsonl")]) == real
    assert dir_key([str(runs / "a" / "*.jsonl")]) == os.path.realpath(runs / "a")
    assert dir_key(["-"]) is None and dir_key([]) is None


def test_metrics_are_saved_per_directory_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "state" / "lrwatch" / "views.json"
    a, b = ViewPrefs("/runs/a", path), ViewPrefs("/runs/b", path)
    assert a.load_metrics() == ([], None)  # no file yet
    assert a.save_metrics(["acc", "sys/rss_mb"]) is None
    assert b.save_metrics(["tokens_per_s"]) is None
    assert ViewPrefs("/runs/a", path).load_metrics() == (["acc", "sys/rss_mb"], None)
    assert ViewPrefs("/runs/b", path).load_metrics() == (["tokens_per_s"], None)
    data = json.loads(path.read_text())
    assert data["v"] == 1 and set(data["dirs"]) == {"/runs/a", "/runs/b"}
    assert [p.name for p in path.parent.iterdir()] == ["views.json"]  # no temporary left


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"dirs": 3}'])
def test_a_corrupt_file_is_ignored_with_a_note_and_replaced_on_save(
    tmp_path: Path, text: str
) -> None:
    path = tmp_path / "views.json"
    path.write_text(text)
    prefs = ViewPrefs("/runs", path)
    metrics, note = prefs.load_metrics()
    assert metrics == [] and note is not None and "ignored" in note
    assert prefs.save_metrics(["acc"]) is None
    assert prefs.load_metrics() == (["acc"], None)


def test_an_unwritable_place_gives_a_note_not_an_exception(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")  # a file where the directory should be: even root cannot write
    prefs = ViewPrefs("/runs", blocker / "lrwatch" / "views.json")
    assert prefs.load_metrics()[0] == []  # (with a note that it could not be read)
    note = prefs.save_metrics(["acc"])
    assert note is not None and "not remembered" in note


def test_no_key_remembers_nothing(tmp_path: Path) -> None:
    path = tmp_path / "views.json"
    prefs = ViewPrefs(None, path)
    assert prefs.save_metrics(["acc"]) is None and not path.exists()
    assert prefs.load_metrics() == ([], None)
