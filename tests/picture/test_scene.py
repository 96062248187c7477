"""The scene: where the data, the NaN marks, the markers and the findings are drawn."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from lrwatch.picture.axes import smooth_columns
from lrwatch.picture.primitives import Label, Line, Mark, Rect, Scene
from lrwatch.picture.primitives import Path as PathItem
from lrwatch.picture.scene import Options, build_scene
from lrwatch.reduction import reduce_points
from lrwatch.store import RunData, Series
from lrwatch.tui.smooth import ema_debiased
from tests import rewind_logs
from tests.picture.helpers import HF_STATE, NAN_RUN, WARMUP, judged, scene_of


def _paths(scene: Scene, role: str) -> list[PathItem]:
    return [i for i in scene.items if isinstance(i, PathItem) and i.role == role]


def _vertices(path: PathItem) -> np.ndarray:
    ok = np.isfinite(path.xs) & np.isfinite(path.ys)
    return np.stack([path.xs[ok], path.ys[ok]], axis=1)


def test_raw_loss_passes_through_every_logged_point_and_nan_marks_where_it_went_nan() -> None:
    store, _ = judged(NAN_RUN)
    loss = store.runs[NAN_RUN.stem].series["loss"]
    scene = scene_of(NAN_RUN)
    panel = scene.panel("loss")
    assert panel is not None and panel.log  # 1.7 → 2e25: more than 3 decades
    (raw,) = _paths(scene, "loss-raw")
    verts = _vertices(raw)
    finite = np.isfinite(loss.values)
    for step, value in zip(loss.steps[finite], loss.values[finite], strict=True):
        want = np.array([panel.x(step), min(max(panel.y(value), panel.top), panel.bottom)])
        assert np.abs(verts - want).max(axis=1).min() < 0.6, (step, value)
    first_nan = int(loss.steps[~finite][0])
    assert first_nan == 29
    marks = [i for i in scene.items if isinstance(i, Mark) and i.role == "nan"]
    assert [round(m.x) for m in marks] == [round(float(panel.x(first_nan)))]
    (band,) = [i for i in scene.items if isinstance(i, Rect) and i.role == "nan-band"]
    assert band.x <= panel.x(first_nan) and band.x + band.w >= panel.x(int(loss.steps[-1])) - 1
    # The raw line stops at the last finite point: nothing drawn past step 24.
    assert verts[:, 0].max() <= panel.x(24) + 0.5


def test_findings_are_labelled_at_their_steps() -> None:
    _, results = judged(NAN_RUN)
    scene = scene_of(NAN_RUN)
    panel = scene.panel("loss")
    assert panel is not None
    lines = {round(i.x1, 1) for i in scene.items if isinstance(i, Line) and i.role == "finding"}
    texts = [i.text for i in scene.items if isinstance(i, Label) and i.role == "finding"]
    for f in results[0]["findings"]:
        assert round(float(panel.x(f["step"])), 1) in lines
        assert any(f["symptom"] in t for t in texts)
    assert {"✗ nan_inf", "! loss_spike"} <= set(texts)


def test_lr_panel_is_log() -> None:
    store, _ = judged(WARMUP)
    lr = store.runs[WARMUP.stem].series["lr"]
    scene = scene_of(WARMUP)
    panel = scene.panel("lr")
    assert panel is not None and panel.log
    (path,) = _paths(scene, "lr")
    verts = _vertices(path)
    # y is linear in log10(lr), not in lr: fit both and compare the residuals.
    ys = np.array([verts[np.abs(verts[:, 0] - panel.x(s)).argmin(), 1] for s in lr.steps])
    for xs, expect_fit in ((np.log10(lr.values), True), (lr.values, False)):
        fit = np.polyval(np.polyfit(xs, ys, 1), xs)
        assert bool(np.abs(fit - ys).max() < 1.0) is expect_fit
    labels = [i.text for i in scene.items if isinstance(i, Label) and i.role == "ytick"]
    assert "0.1" in labels and "0.01" in labels


def test_panels_only_with_data_and_val_loss_dashed() -> None:
    assert [p.name for p in scene_of(NAN_RUN).panels] == ["loss", "lr"]
    scene = scene_of(HF_STATE)
    assert [p.name for p in scene.panels] == ["loss", "lr", "grad"]
    (val,) = _paths(scene, "val")
    assert val.dash and val.colour == "val"
    assert _paths(scene, "grad")


def _lr_change_log(path: Path) -> Path:
    lines = [rewind_logs.header(0.1, "lrc"), *rewind_logs.losses(range(1, 30))]
    lines.append(
        '{"kind": "lr_change", "step": 29, "t": 1750000029.5, "old": [0.1], "new": [0.01],'
        ' "mode": "rescale", "by": "unix", "id": "c1"}'
    )
    lines += rewind_logs.losses(range(30, 60), lr=0.01)
    return rewind_logs.write(path, lines)


def test_lr_change_and_rewind_markers_and_the_abandoned_branch(tmp_path: Path) -> None:
    scene = scene_of(_lr_change_log(tmp_path / "lrc.jsonl"))
    lr = scene.panel("lr")
    assert lr is not None
    change = [i for i in scene.items if isinstance(i, Line) and i.role == "lr-change"]
    assert {round(i.x1, 1) for i in change} == {round(float(lr.x(29)), 1)}
    assert len(change) == len(scene.panels)  # through every panel
    assert "0.1→0.01" in [i.text for i in scene.items if isinstance(i, Label)]

    scene = scene_of(rewind_logs.write(tmp_path / "rw.jsonl", rewind_logs.spike_and_rewind()))
    loss = scene.panel("loss")
    assert loss is not None
    rewinds = [i for i in scene.items if isinstance(i, Line) and i.role == "rewind"]
    assert {round(i.x1, 1) for i in rewinds} == {round(float(loss.x(40)), 1)}
    assert any(i.text.startswith("⟲ 60→40") for i in scene.items if isinstance(i, Label))
    gone = _paths(scene, "abandoned")
    assert gone and all(p.opacity < 0.5 for p in gone)
    # The blow-up was abandoned: it does not set the loss range (it would squash the rest).
    assert not loss.log and loss.yhi < 10


def test_overlay_one_colour_per_run_with_a_legend() -> None:
    scene = scene_of(WARMUP, HF_STATE)
    smoothed = _paths(scene, "loss")
    assert [p.run for p in smoothed] == [WARMUP.stem, HF_STATE.stem]
    assert len({p.colour for p in smoothed}) == 2
    assert not _paths(scene, "loss-raw")  # as in the UI: smoothed lines only
    legend = [i.text for i in scene.items if isinstance(i, Label) and i.role == "legend"]
    assert WARMUP.stem in legend and HF_STATE.stem in legend


def test_no_color_runs_differ_by_dash_not_hue() -> None:
    scene = scene_of(WARMUP, HF_STATE, mono=True)
    a, b = _paths(scene, "loss")
    assert a.dash != b.dash
    from lrwatch.picture.theme import palette

    pal = palette("dark", mono=True)
    assert pal[a.colour] == pal[b.colour] == pal["nan"]


def test_no_loss_says_so(tmp_path: Path) -> None:
    log = tmp_path / "noloss.jsonl"
    log.write_text('{"step": 1, "acc": 0.5}\n{"step": 2, "acc": 0.6}\n')
    scene = scene_of(log)
    notes = [i.text for i in scene.items if isinstance(i, Label) and i.role == "note"]
    assert notes and "no training loss found" in notes[0]


def test_smoothing_on_columns_is_the_ui_ema_at_one_point_per_column() -> None:
    rng = np.random.default_rng(0)
    values = np.exp(-np.arange(300) / 100) + rng.normal(0, 0.05, 300)
    values[[50, 51]] = np.nan
    steps = np.arange(300)
    red = reduce_points(steps, values, 1000)
    assert len(red) == 300
    ours = smooth_columns(red, 0.9)
    finite = np.isfinite(values)
    ui, _, _ = ema_debiased(values[finite], 0.9)
    np.testing.assert_allclose(ours[finite], ui, rtol=1e-12)
    assert np.isnan(ours[~finite]).all()


def test_ten_million_points_draw_as_many_vertices_as_the_picture_is_wide() -> None:
    n = 10_000_000
    run = RunData("big")
    s = run.metric("loss")
    s.extend(np.arange(n), 1.0 + np.sin(np.arange(n) / 1e5))
    run.first_step, run.last_step = 0, n - 1
    scene = build_scene([run], {}, Options(width=800))
    panel = scene.panel("loss")
    assert panel is not None
    (raw,) = _paths(scene, "loss-raw")
    assert len(raw.xs) <= 4 * math.ceil(panel.width) + 4
    assert len(scene.items) < 200
    assert isinstance(s, Series)
