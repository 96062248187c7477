"""The incremental rule engine: records in, findings out, O(1) amortized per record.

The engine tracks the learning rate (``lr`` metric, run header, ``lr_change`` events),
notices warmup (LR rising) and jumps (step decay, warm restarts, manual changes) and resets
the rules' baselines on jumps, so the loss bump that follows an LR jump is not a problem.

What it knows about the run is a :class:`~lrwatch.rules.context.RunState`, which every rule
reads as its read-only :class:`~lrwatch.rules.context.RunContext`; each rule reports through
its own :class:`~lrwatch.rules.reporter.Reporter` from the engine's
:class:`~lrwatch.rules.reporter.FindingBook`, which keeps one finding per ongoing problem.
Rules never see the engine, nor each other.

A ``rewind`` record (the run went back to a snapshot of step TO and logs TO+1, ... again):
the open findings whose onset is after TO belong to the abandoned branch and are resolved
("resolved by rewind to step TO"); the rest of the rules' state is reset with a re-warmup
(the engine's ``grace``), as after an explicit LR change, and the step goes back to TO, so
the repeated steps are the new branch, not a run going backwards. A reset, not a rebuild
from the points up to TO: the engine keeps no points (O(1) memory per run), and what it is
fed (a live stream, a thinned backlog) may not hold them either. What the rules lose is the
baselines of the branch before TO, for ``grace`` points.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterable

from lrwatch.branches import parse_rewind
from lrwatch.liveness import GAP_POINTS, stalled_after, usual_gap
from lrwatch.losschoice import is_val_set
from lrwatch.records import SYSTEM_PREFIX, AnyRecord, Event, MetricBlock, Metrics
from lrwatch.rules.base import Rule
from lrwatch.rules.config import RuleConfig
from lrwatch.rules.context import RunContext, RunState
from lrwatch.rules.divergence import Divergence
from lrwatch.rules.finding import Finding, clamp01
from lrwatch.rules.grad_explosion import GradExplosion
from lrwatch.rules.loss_stats import LossStats
from lrwatch.rules.nan_inf import NanInf, ValNan
from lrwatch.rules.oscillation import Oscillation
from lrwatch.rules.overfitting import Overfitting
from lrwatch.rules.plateau import TrainPlateau, ValPlateau
from lrwatch.rules.reporter import FindingBook
from lrwatch.rules.slow_progress import SlowProgress
from lrwatch.rules.spikes import LossSpike
from lrwatch.rules.system import GpuIdle, MemoryPressure, SystemRule

#: Named eval sets judged for overfitting at most (beyond: ignored).
MAX_SETS = 16

#: An LR up to this fraction above the run's peak counts as one it has already used (a warm
#: restart back to the peak, logged with rounding); anything higher is a new high.
REUSED_LR_TOLERANCE = 0.01


class Engine:
    """Feeds records of one run through the rules; keeps the findings."""

    def __init__(self, config: RuleConfig | None = None, *, run: str = "") -> None:
        """``run`` prefixes finding ids, so ids stay unique across runs in one UI."""
        self.config = config or RuleConfig()
        self.run = run
        cfg = self.config
        loss = LossStats(
            cfg.divergence.beta,
            cfg.loss_spike.window,
            cfg.engine.start_grace,
            cfg.divergence.level_points,
        )
        self._book = FindingBook(run, cfg.engine.reopen_within, points=self._points)
        self._state = RunState(cfg, loss, is_open=self._book.is_open)
        self._pre_shock_lr: float | None = None  # the LR before an unprecedented jump
        self.ended = False
        self._arrival: float | None = None  # wall time of the last feed with records
        self._times: deque[float] = deque(maxlen=GAP_POINTS)  # newest increasing record times
        self._stalled: Finding | None = None
        self._val_sets: dict[str, Overfitting] = {}  #: named eval sets, one rule each
        #: metric keys that are not named eval sets (checked once per key)
        self._not_sets: set[str] = {"loss", "val_loss", "lr", "grad_norm", "val_loss_logged"}
        self._build_rules()

    def _build_rules(self) -> None:
        """Instantiate the enabled rules, and per hook the list of rules that implement it."""
        cfg, ctx, out = self.config, self._state, self._book.reporter
        rules: list[Rule | None] = [
            Divergence(ctx, out(Divergence.symptom), cfg.divergence)
            if cfg.divergence.enabled
            else None,
            Oscillation(ctx, out(Oscillation.symptom), cfg.oscillation)
            if cfg.oscillation.enabled
            else None,
            SlowProgress(ctx, out(SlowProgress.symptom), cfg.slow_progress)
            if cfg.slow_progress.enabled
            else None,
            TrainPlateau(ctx, out(TrainPlateau.symptom), cfg.plateau)
            if cfg.plateau.enabled
            else None,
            ValPlateau(ctx, out(ValPlateau.symptom), cfg.plateau) if cfg.plateau.enabled else None,
            Overfitting(ctx, out(Overfitting.symptom), cfg.overfitting)
            if cfg.overfitting.enabled
            else None,
            ValNan(ctx, out(ValNan.symptom), cfg.val_nan) if cfg.val_nan.enabled else None,
            GradExplosion(ctx, out(GradExplosion.symptom), cfg.grad_explosion)
            if cfg.grad_explosion.enabled
            else None,
            GpuIdle(ctx, out(GpuIdle.symptom), cfg.gpu_idle) if cfg.gpu_idle.enabled else None,
            MemoryPressure(ctx, out(MemoryPressure.symptom), cfg.memory_pressure)
            if cfg.memory_pressure.enabled
            else None,
        ]
        # The two rules the engine calls directly, outside the per-hook lists: the spike
        # check judges a loss before the shared statistics take it in, the NaN rule sees
        # every loss, finite or not.
        self._spike = (
            LossSpike(ctx, out(LossSpike.symptom), cfg.loss_spike)
            if cfg.loss_spike.enabled
            else None
        )
        self._nan = NanInf(ctx, out(NanInf.symptom), cfg.nan_inf) if cfg.nan_inf.enabled else None
        self._rules: list[Rule] = [r for r in (*rules, self._spike, self._nan) if r is not None]
        self._overfit_sets = cfg.overfitting.enabled
        # Per hook, only the rules that implement it: most records reach 3-5 rules, not 10.
        self._loss_rules = _implementing(self._rules, "on_loss")
        self._val_rules = _implementing(self._rules, "on_val")
        self._grad_rules = _implementing(self._rules, "on_grad")
        self._system_rules = [r for r in self._rules if isinstance(r, SystemRule)]

    # -- public API -------------------------------------------------------------------------

    def feed(self, records: Iterable[AnyRecord]) -> list[Finding]:
        """Process a batch; returns the findings opened or changed (escalated, resolved) by it."""
        book = self._book
        book.begin()
        any_record = False
        for rec in records:
            if isinstance(rec, Metrics):
                # A system sample is not progress: its thread writes on while training hangs.
                any_record = self._on_metrics(rec) or any_record
                continue
            any_record = True
            if isinstance(rec, MetricBlock):
                self._on_block(rec)
            else:
                self._on_event(rec)
        if any_record:
            self._arrival = time.time()
            if self._stalled is not None:
                book.resolve(self._stalled, self._state.step, "records arrived again")
                self._stalled = None
        return sorted(book.changed.values(), key=_onset_key)

    def check_stalled(self, now: float) -> list[Finding]:
        """For live use: a ``stalled`` finding when nothing arrived for a while (``now``:
        time.time()): :func:`lrwatch.liveness.stalled_after` with ``[stalled]`` settings."""
        cfg = self.config.stalled
        if not cfg.enabled or self.ended or self._arrival is None or self._stalled is not None:
            return []
        gap = usual_gap(self._times)
        limit = stalled_after(gap, cfg.min_seconds, cfg.factor)
        quiet = now - self._arrival
        if quiet < limit:
            return []
        book, step = self._book, self._state.step
        book.begin()
        self._stalled = f = book.new(
            "stalled",
            "warning",
            step,
            {
                "seconds_quiet": round(quiet, 1),
                "limit_seconds": round(limit, 1),
                "typical_interval_s": None if gap is None else round(gap, 3),
                "last_step": step,
            },
        )
        usually = "" if gap is None else f" (usually one every {gap:.1f} s)"
        f.message = f"No new records for {quiet:.0f} s{usually} and no end record."
        f.suggestion = "Check that the training process is alive (OOM kill, hung data loader or collective, full disk)."
        f.confidence = clamp01(0.5 + 0.1 * quiet / limit)
        return [f]

    @property
    def findings(self) -> list[Finding]:
        """All findings, open and resolved, in onset order."""
        return sorted(self._book.findings, key=_onset_key)

    @property
    def context(self) -> RunContext:
        """What the rules see of the run (read-only)."""
        return self._state

    @property
    def step(self) -> int:
        """The newest step seen."""
        return self._state.step

    @property
    def lr(self) -> float | None:
        """The current LR (group 0), None while unknown."""
        return self._state.lr

    @property
    def points(self) -> int:
        """Finite train-loss points seen."""
        return self._state.points

    @property
    def val_points(self) -> int:
        """Finite val-loss points seen."""
        return self._state.val_points

    @property
    def loss(self) -> LossStats:
        """The shared train-loss statistics."""
        return self._state.loss

    # -- internals --------------------------------------------------------------------------

    def _points(self) -> int:
        return self._state.points

    def _on_metrics(self, rec: Metrics) -> bool:
        """One record; False for a system sample (only the system rules see those)."""
        values = rec.values
        if next(iter(values), "").startswith(SYSTEM_PREFIX):
            for system_rule in self._system_rules:
                system_rule.on_system(rec.step, rec.t, values)
            return False
        get = values.get
        self._on_row(rec.step, rec.t, get("lr"), get("loss"), get("val_loss"), get("grad_norm"))
        if not self._not_sets.issuperset(values):  # one C-level test for the usual record
            for key, x in values.items():
                rule = None if key in self._not_sets else self._val_set(key)
                if rule is not None and math.isfinite(x):
                    rule.on_val(rec.step, x)
        return True

    def _val_set(self, key: str) -> Overfitting | None:
        """The overfitting rule of the named eval set ``key`` (HF ``eval_g1_loss``, Lightning
        ``val_g1_loss``: a set can overfit alone), made on first sight; None, remembered, for
        any other metric."""
        rule = self._val_sets.get(key)
        if (
            rule is None
            and self._overfit_sets
            and len(self._val_sets) < MAX_SETS
            and is_val_set(key)
        ):
            rule = self._val_sets[key] = Overfitting(
                self._state,
                self._book.reporter(Overfitting.symptom),
                self.config.overfitting,
                metric=key,
            )
            self._rules.append(rule)
            self._loss_rules.append(rule)
        elif rule is None and len(self._not_sets) < 10_000:
            self._not_sets.add(key)
        return rule

    def _on_block(self, block: MetricBlock) -> None:
        """A block's rows, as :meth:`_on_metrics` of each would, without building them."""
        n = len(block)
        cols = block.columns
        steps = block.steps.tolist()
        times = [None] * n if block.times is None else block.times.tolist()
        lrs, losses, vals, grads = (
            cols[k].tolist() if k in cols else [None] * n
            for k in ("lr", "loss", "val_loss", "grad_norm")
        )
        row = self._on_row
        for i in range(n):
            row(steps[i], times[i], lrs[i], losses[i], vals[i], grads[i])
        for key in cols:
            rule = None if key in self._not_sets else self._val_set(key)
            if rule is not None:
                for step, x in zip(steps, cols[key].tolist(), strict=True):
                    if math.isfinite(x):
                        rule.on_val(step, x)

    def _on_row(
        self,
        step: int,
        t: float | None,
        lr: float | None,
        loss: float | None,
        val: float | None,
        grad: float | None,
    ) -> None:
        st = self._state
        if step < st.step:
            # The step went back: a resumed or restarted run; judge it afresh.
            self._reset(step, 0, explicit=False)
        st.step = step
        if t is not None:
            self._note_time(t)
        if lr is not None and math.isfinite(lr) and lr > 0:
            st.lr_logged = True
            self._set_lr(step, lr, explicit=False)
        if loss is not None:
            self._on_loss(step, loss)
        if val is not None:
            if math.isfinite(val):
                st.val_points += 1
            for rule in self._val_rules:
                rule.on_val(step, val)
        if grad is not None:
            for rule in self._grad_rules:
                rule.on_grad(step, grad)

    def _on_loss(self, step: int, x: float) -> None:
        if self._nan is not None:
            self._nan.on_any_loss(step, x)
        if not math.isfinite(x):
            return
        st = self._state
        st.points += 1
        if self._spike is not None:
            self._spike.check(step, x)  # judged against the window before x joins it
        if st.shock_left > 0:
            st.shock_left -= 1
            if st.shock_left == 0:
                self._pre_shock_lr = None  # the LR stayed up: a new regime, not a shock
        st.loss.add(step, x)
        for rule in self._loss_rules:
            rule.on_loss(step, x)

    def _on_event(self, ev: Event) -> None:
        st = self._state
        if ev.step is not None and ev.step > st.step:
            st.step = ev.step
        if ev.t is not None:
            self._note_time(ev.t)
        data = ev.data
        if ev.kind == "run":
            opt = data.get("optimizer")
            if isinstance(opt, str) and opt:
                st.optimizer = opt
            lr = _first_lr(data.get("lr"))
            if lr is not None and st.lr is None:
                st.lr = st.lr_max = lr
        elif ev.kind == "lr_change":
            lr = _first_lr(data.get("new"))
            if lr is not None:
                self._set_lr(st.step, lr, explicit=True)
        elif ev.kind == "rewind":
            self._rewind(ev)
        elif ev.kind == "end":
            self.ended = True
            if self._stalled is not None:
                self._book.resolve(self._stalled, st.step, "the run ended")
                self._stalled = None

    def _set_lr(self, step: int, lr: float, explicit: bool) -> None:
        st = self._state
        prev, peak = st.lr, st.lr_max
        st.lr = lr
        st.lr_max = lr if peak is None else max(peak, lr)
        if prev is None or prev <= 0:
            return
        ratio = lr / prev
        decaying, st.lr_ratio = st.lr_ratio < 1.0 - 1e-6, ratio
        if not explicit:
            st.lr_rising = ratio > 1.0 + 1e-6
            st.saw_warmup = st.saw_warmup or (st.lr_rising and st.points < 1000)
        jump = self.config.engine.jump_ratio
        if not explicit and decaying and 1.0 / jump**2 < ratio < 1.0:
            # A smooth schedule on its way to zero (linear decay logged every N steps: 0.15
            # -> 0.10 of the peak is a 1.5x step) is not a step decay: nothing restarts.
            return
        before = self._pre_shock_lr
        if not explicit and ratio <= 1.0 / jump and before is not None and lr <= jump * before:
            # Back down to the LR from before a shock: the old baselines are valid again, and
            # the loss blow-up the shock causes often shows only now (Adam's moments).
            st.shock_left = self.config.engine.grace
            self._pre_shock_lr = None
        elif explicit or ratio <= 1.0 / jump:
            self._reset(step, 1 if ratio > 1 else -1 if ratio < 1 else 0, explicit)
        elif ratio >= jump and peak is not None and lr <= peak * (1.0 + REUSED_LR_TOLERANCE):
            # Back up to an LR the run has already used (warm restart, cyclic schedule): the
            # loss bump that follows is expected, so the baselines start afresh. Not a new
            # high, however close to the peak: a linear warmup's third step is exactly 1.5x
            # the second, and restarting the baselines there hid a blow-up later in warmup.
            self._reset(step, 1, explicit)
        elif ratio >= jump and st.points >= self.config.loss_spike.min_points:
            # Beyond anything the run used (an LR shock, a manual 10× raise): nothing is
            # reset, and for a while a loss jump is judged against the level before it with a
            # lower bar, because its likely cause is known. (Early warmup steps are also new
            # highs; they come before the spike window is warm and only keep the baselines.)
            self._pre_shock_lr = prev
            st.shock_left = self.config.engine.grace

    def _rewind(self, ev: Event) -> None:
        """A ``rewind`` record: close the abandoned branch's findings, restart the rules at
        its ``to_step`` (see the module docstring)."""
        rewind = parse_rewind(ev)
        if rewind is None:
            return  # no usable to_step: nothing to go back to
        st, to = self._state, rewind.to_step
        why = f"resolved by rewind to step {to}"
        for rule in self._rules:
            f = rule.reporter.active
            if f is not None and f.step > to:
                rule.reporter.resolve(st.step, why, reopenable=False)
        lr = _first_lr(ev.data.get("new"))
        if lr is not None:  # the LR the new branch starts with: no jump to judge
            st.lr, st.lr_max = lr, lr if st.lr_max is None else max(st.lr_max, lr)
        st.step = to
        st.rewinds += 1
        st.shock_left, self._pre_shock_lr = 0, None
        self._reset(to, 0, True)  # a new start from a known state, not a fix: direction 0

    def _reset(self, step: int, direction: int, explicit: bool) -> None:
        self._state.loss.reset(self.config.engine.grace, lowered=direction < 0)
        for rule in self._rules:
            rule.on_reset(step, direction, explicit)

    def _note_time(self, t: float) -> None:
        """Remember a record's time for the usual gap between records (stall detection)."""
        times = self._times
        if math.isfinite(t) and (not times or t > times[-1]):
            times.append(t)


def _implementing(rules: list[Rule], hook: str) -> list[Rule]:
    return [r for r in rules if getattr(type(r), hook) is not getattr(Rule, hook)]


def _onset_key(f: Finding) -> tuple[int, str]:
    return (f.step, f.id)


def _first_lr(value: object) -> float | None:
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        v = float(value)
        return v if math.isfinite(v) and v > 0 else None
    return None
