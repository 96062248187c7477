"""The incremental rule engine: records in, findings out, O(1) amortized per record.

The engine tracks the learning rate (``lr`` metric, run header, ``lr_change`` events),
notices warmup (LR rising) and jumps (step decay, warm restarts, manual changes) and resets
the rules' baselines on jumps, so the loss bump that follows an LR jump is not a problem.
Rules report through :meth:`Engine.report`, which keeps one finding per ongoing problem.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any

from lrwatch.losschoice import is_val_set
from lrwatch.records import AnyRecord, Event, MetricBlock, Metrics
from lrwatch.rules.base import LossStats, Rule
from lrwatch.rules.config import RuleConfig
from lrwatch.rules.divergence import Divergence
from lrwatch.rules.finding import Finding, clamp01, severity_rank
from lrwatch.rules.oscillation import Oscillation
from lrwatch.rules.other_rules import GradExplosion, NanInf, Overfitting, ValNan
from lrwatch.rules.plateau import TrainPlateau, ValPlateau
from lrwatch.rules.progress import SlowProgress
from lrwatch.rules.spikes import LossSpike

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
        self.lr: float | None = None  #: current LR (group 0)
        self.lr_max: float | None = None  #: highest LR seen
        self.lr_rising = False  #: the LR went up at the last change (warmup, cyclic rise)
        self.saw_warmup = False
        self.optimizer: str | None = None  #: optimizer class name from the run header
        #: the LR is logged with the metrics (not only stated once, in a header or config line),
        #: so a warmup or a schedule would show
        self.lr_logged = False
        self.shock_left = 0  #: loss points left in which a jump is judged as an LR shock's
        self._pre_shock_lr: float | None = None  # the LR before an unprecedented jump
        self._lr_ratio = 1.0  # ratio of the last LR change seen (< 1: the LR was decaying)
        self.step = 0  #: newest step seen
        self.points = 0  #: finite train-loss points seen
        self.val_points = 0  #: finite val-loss points seen
        self.ended = False
        self.loss = LossStats(
            cfg.divergence.beta,
            cfg.loss_spike.window,
            cfg.engine.start_grace,
            cfg.divergence.level_points,
        )
        self._findings: list[Finding] = []
        self._ids: set[str] = set()
        self._changed: dict[int, Finding] = {}
        self._arrival: float | None = None  # wall time of the last feed with records
        self._last_t: float | None = None
        self._gap: float | None = None  # smoothed interval between record times
        self._stalled: Finding | None = None
        self._val_sets: dict[str, Overfitting] = {}  #: named eval sets, one rule each
        #: metric keys that are not named eval sets (checked once per key)
        self._not_sets: set[str] = {"loss", "val_loss", "lr", "grad_norm", "val_loss_logged"}
        self._build_rules()

    def _build_rules(self) -> None:
        """Instantiate the enabled rules, and per hook the list of rules that implement it."""
        cfg = self.config
        self._overfit_sets = cfg.overfitting.enabled
        self._spike = LossSpike(self) if cfg.loss_spike.enabled else None
        self.nan_rule = self._nan = NanInf(self) if cfg.nan_inf.enabled else None
        self._rules: list[Rule] = [
            rule(self)
            for rule, on in (
                (Divergence, cfg.divergence.enabled),
                (Oscillation, cfg.oscillation.enabled),
                (SlowProgress, cfg.slow_progress.enabled),
                (TrainPlateau, cfg.plateau.enabled),
                (ValPlateau, cfg.plateau.enabled),
                (Overfitting, cfg.overfitting.enabled),
                (ValNan, cfg.val_nan.enabled),
                (GradExplosion, cfg.grad_explosion.enabled),
            )
            if on
        ]
        if self._spike:
            self._rules.append(self._spike)
        if self._nan:
            self._rules.append(self._nan)
        # Per hook, only the rules that implement it: most records reach 3-5 rules, not 10.
        self._loss_rules = _implementing(self._rules, "on_loss")
        self._val_rules = _implementing(self._rules, "on_val")
        self._grad_rules = _implementing(self._rules, "on_grad")

    # -- public API -------------------------------------------------------------------------

    def feed(self, records: Iterable[AnyRecord]) -> list[Finding]:
        """Process a batch; returns the findings opened or changed (escalated, resolved) by it."""
        self._changed = {}
        any_record = False
        for rec in records:
            any_record = True
            if isinstance(rec, Metrics):
                self._on_metrics(rec)
            elif isinstance(rec, MetricBlock):
                self._on_block(rec)
            else:
                self._on_event(rec)
        if any_record:
            self._arrival = time.time()
            if self._stalled is not None:
                self.resolve(self._stalled, self.step, "records arrived again")
                self._stalled = None
        return sorted(self._changed.values(), key=_onset_key)

    def check_stalled(self, now: float) -> list[Finding]:
        """For live use: a ``stalled`` finding when nothing arrived for a while (``now``: time.time())."""
        cfg = self.config.stalled
        if not cfg.enabled or self.ended or self._arrival is None or self._stalled is not None:
            return []
        limit = max(cfg.min_seconds, cfg.factor * (self._gap or 0.0))
        quiet = now - self._arrival
        if quiet < limit:
            return []
        self._changed = {}
        self._stalled = f = self._new(
            "stalled",
            "warning",
            self.step,
            {
                "seconds_quiet": round(quiet, 1),
                "limit_seconds": round(limit, 1),
                "typical_interval_s": None if self._gap is None else round(self._gap, 3),
                "last_step": self.step,
            },
        )
        f.message = f"No new records for {quiet:.0f} s (usually one every {self._gap or 0:.1f} s) and no end record."
        f.suggestion = "Check that the training process is alive (OOM kill, hung data loader or collective, full disk)."
        f.confidence = clamp01(0.5 + 0.1 * quiet / limit)
        return [f]

    @property
    def lr_decaying(self) -> bool:
        """The last LR change was a smooth decrease: a schedule decaying, not a step or shock."""
        return 1.0 / self.config.engine.jump_ratio**2 < self._lr_ratio < 1.0 - 1e-6

    def is_open(self, symptom: str) -> bool:
        """Whether an unresolved finding of ``symptom`` exists."""
        return any(r.symptom == symptom and r.active is not None for r in self._rules)

    @property
    def findings(self) -> list[Finding]:
        """All findings, open and resolved, in onset order."""
        return sorted(self._findings, key=_onset_key)

    # -- what rules call --------------------------------------------------------------------

    def report(
        self,
        rule: Rule,
        symptom: str,
        step: int,
        severity: str,
        onset: int | None,
        fields: dict[str, Any],
    ) -> Finding:
        """Open a finding for ``rule`` or update its open one (escalating, never demoting)."""
        f = rule.active
        if f is None:
            f = self._reopen(rule)
        if f is None:
            f = self._new(symptom, severity, step if onset is None else onset, {})
        elif severity_rank(severity) > severity_rank(f.severity):
            f.severity = severity
            self._changed[id(f)] = f
        f.last_step = max(f.last_step, step)
        reopened = f.evidence.get("reopened")
        for key, value in fields.items():
            setattr(f, key, value)
        if reopened and "reopened" not in f.evidence:
            f.evidence["reopened"] = reopened  # rules rebuild the evidence; keep the count
        return f

    def resolve(self, f: Finding, step: int, why: str = "") -> None:
        """Mark ``f`` resolved at ``step``."""
        if f.resolved:
            return
        f.resolved = True
        f.resolved_step = step
        if why:
            f.evidence = {**f.evidence, "resolved_because": why}
        self._changed[id(f)] = f

    # -- internals --------------------------------------------------------------------------

    def _reopen(self, rule: Rule) -> Finding | None:
        """The rule's last finding, reopened, when it was resolved only a few points ago."""
        f = rule.closed
        if f is None or self.points - rule.closed_at > self.config.engine.reopen_within:
            return None
        rule.closed = None
        f.resolved, f.resolved_step = False, None
        f.evidence = {k: v for k, v in f.evidence.items() if k != "resolved_because"}
        f.evidence["reopened"] = f.evidence.get("reopened", 0) + 1
        self._changed[id(f)] = f
        return f

    def _new(self, symptom: str, severity: str, onset: int, evidence: dict[str, Any]) -> Finding:
        base = f"{self.run}/{symptom}@{onset}" if self.run else f"{symptom}@{onset}"
        fid, k = base, 1
        while fid in self._ids:
            k += 1
            fid = f"{base}.{k}"
        self._ids.add(fid)
        f = Finding(symptom, severity, onset, onset, evidence=evidence, id=fid)
        self._findings.append(f)
        self._changed[id(f)] = f
        return f

    def _on_metrics(self, rec: Metrics) -> None:
        values = rec.values
        get = values.get
        self._on_row(rec.step, rec.t, get("lr"), get("loss"), get("val_loss"), get("grad_norm"))
        if not self._not_sets.issuperset(values):  # one C-level test for the usual record
            for key, x in values.items():
                rule = None if key in self._not_sets else self._val_set(key)
                if rule is not None and math.isfinite(x):
                    rule.on_val(rec.step, x)

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
            rule = self._val_sets[key] = Overfitting(self, metric=key)
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
        if step < self.step:
            # The step went back: a resumed or restarted run; judge it afresh.
            self._reset(step, 0, explicit=False)
        self.step = step
        self._note_time(t)
        if lr is not None and math.isfinite(lr) and lr > 0:
            self.lr_logged = True
            self._set_lr(step, lr, explicit=False)
        if loss is not None:
            self._on_loss(step, loss)
        if val is not None:
            if math.isfinite(val):
                self.val_points += 1
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
        self.points += 1
        if self._spike is not None:
            self._spike.check(step, x)  # judged against the window before x joins it
        if self.shock_left > 0:
            self.shock_left -= 1
            if self.shock_left == 0:
                self._pre_shock_lr = None  # the LR stayed up: a new regime, not a shock
        self.loss.add(step, x)
        for rule in self._loss_rules:
            rule.on_loss(step, x)

    def _on_event(self, ev: Event) -> None:
        if ev.step is not None and ev.step > self.step:
            self.step = ev.step
        self._note_time(ev.t)
        data = ev.data
        if ev.kind == "run":
            opt = data.get("optimizer")
            if isinstance(opt, str) and opt:
                self.optimizer = opt
            lr = _first_lr(data.get("lr"))
            if lr is not None and self.lr is None:
                self.lr = self.lr_max = lr
        elif ev.kind == "lr_change":
            lr = _first_lr(data.get("new"))
            if lr is not None:
                self._set_lr(self.step, lr, explicit=True)
        elif ev.kind == "end":
            self.ended = True
            if self._stalled is not None:
                self.resolve(self._stalled, self.step, "the run ended")
                self._stalled = None

    def _set_lr(self, step: int, lr: float, explicit: bool) -> None:
        prev, peak = self.lr, self.lr_max
        self.lr = lr
        self.lr_max = lr if peak is None else max(peak, lr)
        if prev is None or prev <= 0:
            return
        ratio = lr / prev
        decaying, self._lr_ratio = self._lr_ratio < 1.0 - 1e-6, ratio
        if not explicit:
            self.lr_rising = ratio > 1.0 + 1e-6
            self.saw_warmup = self.saw_warmup or (self.lr_rising and self.points < 1000)
        jump = self.config.engine.jump_ratio
        if not explicit and decaying and 1.0 / jump**2 < ratio < 1.0:
            # A smooth schedule on its way to zero (linear decay logged every N steps: 0.15
            # -> 0.10 of the peak is a 1.5x step) is not a step decay: nothing restarts.
            return
        before = self._pre_shock_lr
        if not explicit and ratio <= 1.0 / jump and before is not None and lr <= jump * before:
            # Back down to the LR from before a shock: the old baselines are valid again, and
            # the loss blow-up the shock causes often shows only now (Adam's moments).
            self.shock_left = self.config.engine.grace
            self._pre_shock_lr = None
        elif explicit or ratio <= 1.0 / jump:
            self._reset(step, 1 if ratio > 1 else -1 if ratio < 1 else 0, explicit)
        elif ratio >= jump and peak is not None and lr <= peak * (1.0 + REUSED_LR_TOLERANCE):
            # Back up to an LR the run has already used (warm restart, cyclic schedule): the
            # loss bump that follows is expected, so the baselines start afresh. Not a new
            # high, however close to the peak: a linear warmup's third step is exactly 1.5x
            # the second, and restarting the baselines there hid a blow-up later in warmup.
            self._reset(step, 1, explicit)
        elif ratio >= jump and self.points >= self.config.loss_spike.min_points:
            # Beyond anything the run used (an LR shock, a manual 10× raise): nothing is
            # reset, and for a while a loss jump is judged against the level before it with a
            # lower bar, because its likely cause is known. (Early warmup steps are also new
            # highs; they come before the spike window is warm and only keep the baselines.)
            self._pre_shock_lr = prev
            self.shock_left = self.config.engine.grace

    def _reset(self, step: int, direction: int, explicit: bool) -> None:
        self.loss.reset(self.config.engine.grace, lowered=direction < 0)
        for rule in self._rules:
            rule.on_reset(step, direction, explicit)

    def _note_time(self, t: float | None) -> None:
        if t is None or not math.isfinite(t):
            return
        if self._last_t is not None and t > self._last_t:
            gap = t - self._last_t
            self._gap = gap if self._gap is None else 0.9 * self._gap + 0.1 * gap
        if self._last_t is None or t > self._last_t:
            self._last_t = t


def _implementing(rules: list[Rule], hook: str) -> list[Rule]:
    return [r for r in rules if getattr(type(r), hook) is not getattr(Rule, hook)]


def _onset_key(f: Finding) -> tuple[int, str]:
    return (f.step, f.id)


def _first_lr(value: Any) -> float | None:
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        v = float(value)
        return v if math.isfinite(v) and v > 0 else None
    return None
