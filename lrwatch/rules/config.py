"""Rule thresholds: documented defaults, overridable from a TOML file.

A TOML file has one table per rule, named by its symptom id, plus ``[engine]``::

    [divergence]
    factor = 4.0
    [plateau]
    enabled = false

Window sizes and patiences count *logged points* (one per metric record), not optimizer
steps, so they mean the same whether a run logs every step or every 50 steps. Defaults and
where they come from are in docs/rules.md.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from typing import Any

from lrwatch.liveness import MIN_QUIET_S, QUIET_GAPS


class ConfigError(ValueError):
    """A rules file that cannot be used; the message names the file, table and key."""


@dataclass
class EngineConfig:
    """Shared settings: when an LR change resets the baselines."""

    jump_ratio: float = 1.5  #: LR ratio between consecutive points that counts as a jump
    grace: int = 10  #: points after an LR jump before baselines are taken again
    start_grace: int = 3  #: points at the very start before baselines are taken
    reopen_within: int = 50  #: a symptom back within this many points reopens its finding


@dataclass
class NanInfConfig:
    enabled: bool = True
    grad_patience: int = 3  #: consecutive non-finite grad norms (AMP skips single steps)
    resolve_after: int = 3  #: consecutive finite losses that clear the finding


@dataclass
class ValNanConfig:
    enabled: bool = True


@dataclass
class DivergenceConfig:
    enabled: bool = True
    factor: float = 4.0  #: level ≥ factor × best (fastai LR finder: 4) with lost_fraction lost, or ≥ factor × the first loss
    lost_fraction: float = 0.5  #: this much of the progress since the baseline lost: warning (and needed for the ratio error)
    start_factor: float = 2.0  #: level ≥ this × the first logged loss: warning (factor ×: error)
    error_lost: float = 1.0  #: all progress lost (back above the start level): error
    steep_lost: float = 0.75  #: during warmup (LR rising), this much of the progress lost: warning after ``patience`` points
    patience: int = 2  #: consecutive points over an error line before it is reported
    rise_patience: int = 10  #: consecutive points over the warning line
    noise_z: float = 4.0  #: a rise must exceed this many sigmas of the level's own noise
    level_points: int = 7  #: the loss level is the median of this many last points
    confirm_points: int = 3  #: this many raw points in a row all above the start (after real progress) or ≥ factor × the first loss: error at once (0: off)
    beta: float = 0.9  #: EMA weight per point of the smoothed loss other rules use
    resolve_after: int = 5


@dataclass
class LossSpikeConfig:
    enabled: bool = True
    window: int = 50  #: rolling window for the robust z-score
    min_points: int = 20  #: points in the window before spikes are judged (warm-up)
    z: float = 8.0  #: robust z (vs median, IQR) of a spike, for losses that can be <= 0
    shock_z: float = 3.0  #: either z within engine.grace points of an LR jump past the run's peak
    log_z: float = 5.0  #: robust z of log(loss) (positive losses): ~1e-6 per point if log-normal
    min_jump: float = 0.3  #: and at least this fraction of |median| above the median
    early_factor: float = 10.0  #: before min_points: a loss ≥ this × the first one (warning)
    repeat: int = 3  #: spikes in one episode that make it a warning
    cooldown: int = 50  #: points without a spike that end an episode


@dataclass
class OscillationConfig:
    enabled: bool = True
    window: int = 64  #: points for the autocorrelation
    autocorr: float = -0.55  #: lag-1 autocorrelation at or below this: swings up/down
    alternation_z: float = 5.0  #: or turning points this many sigmas above i.i.d. noise's 2/3
    min_spread: float = 0.005  #: mean |successive difference| ≥ this fraction of |median|
    threshold: float = 0.01  #: relative improvement of the best that counts as progress
    patience: int = 20  #: consecutive points meeting all conditions (and not, to resolve)
    swing_window: int = 32  #: points of the mini-batch swing test (needs 2× this logged)
    swing: float = 0.5  #: log(q90 / q10) of the loss over the window at least this (×1.65)
    max_gain: float = 0.1  #: ... while its median is above (1 - this) × the run's first loss
    swing_patience: int = 10  #: consecutive points meeting the swing test
    factor: float = 0.4  #: suggested LR change for a swinging loss (÷2.5)


@dataclass
class SlowProgressConfig:
    enabled: bool = True
    window: int = 100  #: points judged (and the least before judging)
    max_progress: float = 0.3  #: only while the loss is less than this fraction below its start
    flat_progress: float = 0.01  #: less than this: not moving at all
    linearity: float = 0.6  #: the two half-window drops within this ratio of each other (a line)
    max_noise: float = 0.05  #: point noise / level above this: a flat loss is "stuck", not slow
    min_lr_fraction: float = 0.5  #: LR ≥ this × the run's peak LR (not a decayed tail)
    factor: float = 10.0  #: suggested LR increase
    min_points: int = 20  #: before a full window: at a tiny peak LR, judged from this many points
    stuck_points: int = 250  #: a "never learned" info still flat after this many points: warning
    early_progress: float = 0.05  #: ... flat when less than this fraction below its start


@dataclass
class PlateauConfig:
    enabled: bool = True
    patience: int = 150  #: train-loss points the fitted line runs through
    threshold: float = 0.02  #: a fitted decline over them below this fraction of the level is flat
    z: float = 3.0  #: ... and this many sigmas of the fit's noise
    hold: int = 50  #: points in a row without such a decline before a train plateau is reported
    val_patience: int = 10  #: evaluations without improvement (ReduceLROnPlateau: 10)
    val_threshold: float = 1e-3  #: relative improvement that counts (val loss)
    factor: float = 0.1  #: suggested LR decay (ReduceLROnPlateau: 0.1)
    cooldown: int = 50  #: points after a finding resolves before a new one
    resolve_factor: float = 3.0  #: an open plateau ends on an improvement of this × threshold


@dataclass
class OverfittingConfig:
    enabled: bool = True
    min_evals: int = 3  #: evaluations before judging
    rise: float = 0.03  #: val loss ≥ best × (1 + rise) ...
    patience: int = 3  #: ... for this many consecutive evaluations, while train loss falls
    warn_rise: float = 0.1  #: a warning from this far above the best (below it: info)


@dataclass
class GradExplosionConfig:
    enabled: bool = True
    window: int = 50
    min_points: int = 10
    spike_factor: float = 10.0  #: one grad norm ≥ this × the rolling median
    growth: float = 10.0  #: smoothed grad norm ≥ this × its smoothed minimum (warning)
    error_growth: float = 100.0  #: ... ≥ this × (error)
    patience: int = 3
    beta: float = 0.9
    cooldown: int = 50


@dataclass
class StalledConfig:
    """When a quiet run is stalled: the UI's header uses the same defaults (lrwatch.liveness)."""

    enabled: bool = True
    min_seconds: float = MIN_QUIET_S  #: never report a stall sooner than this (120 s)
    factor: float = QUIET_GAPS  #: or this × the usual (median) interval between records (5)


@dataclass
class GpuIdleConfig:
    """GPU utilisation over wall time (system samples: ``Monitor(system_every=)``)."""

    enabled: bool = True
    threshold: float = 30.0  #: mean GPU utilisation (%) below this ...
    seconds: float = 180.0  #: ... for this long (samples' wall time) while steps advance: info


@dataclass
class MemoryPressureConfig:
    """GPU or host memory near full (system samples)."""

    enabled: bool = True
    fraction: float = 0.95  #: used ≥ this fraction of a GPU's or the host's total: warning
    margin: float = 0.02  #: resolved once below ``fraction - margin`` (no flapping)


@dataclass
class MetricsConfig:
    """Which metrics are the losses, when the order in lrwatch.losschoice picks wrong."""

    loss: str = ""  #: the training loss's name as logged (``a+b`` sums); "" = choose
    val_loss: str = ""  #: the validation loss's name; "" = choose


_SECTIONS: dict[str, type] = {
    "metrics": MetricsConfig,
    "engine": EngineConfig,
    "nan_inf": NanInfConfig,
    "val_nan": ValNanConfig,
    "divergence": DivergenceConfig,
    "loss_spike": LossSpikeConfig,
    "oscillation": OscillationConfig,
    "slow_progress": SlowProgressConfig,
    "plateau": PlateauConfig,
    "overfitting": OverfittingConfig,
    "grad_explosion": GradExplosionConfig,
    "stalled": StalledConfig,
    "gpu_idle": GpuIdleConfig,
    "memory_pressure": MemoryPressureConfig,
}


@dataclass
class RuleConfig:
    """All thresholds, one table per rule (attribute names = symptom ids)."""

    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    nan_inf: NanInfConfig = field(default_factory=NanInfConfig)
    val_nan: ValNanConfig = field(default_factory=ValNanConfig)
    divergence: DivergenceConfig = field(default_factory=DivergenceConfig)
    loss_spike: LossSpikeConfig = field(default_factory=LossSpikeConfig)
    oscillation: OscillationConfig = field(default_factory=OscillationConfig)
    slow_progress: SlowProgressConfig = field(default_factory=SlowProgressConfig)
    plateau: PlateauConfig = field(default_factory=PlateauConfig)
    overfitting: OverfittingConfig = field(default_factory=OverfittingConfig)
    grad_explosion: GradExplosionConfig = field(default_factory=GradExplosionConfig)
    stalled: StalledConfig = field(default_factory=StalledConfig)
    gpu_idle: GpuIdleConfig = field(default_factory=GpuIdleConfig)
    memory_pressure: MemoryPressureConfig = field(default_factory=MemoryPressureConfig)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<rules>") -> RuleConfig:
        """Build from parsed TOML; unknown tables/keys and wrong types raise ConfigError."""
        cfg = cls()
        for section, table in data.items():
            if section not in _SECTIONS:
                known = ", ".join(sorted(_SECTIONS))
                raise ConfigError(f"{source}: unknown section [{section}] (known: {known})")
            if not isinstance(table, dict):
                raise ConfigError(f"{source}: [{section}] must be a table")
            _apply(getattr(cfg, section), section, table, source)
        return cfg


def _apply(target: Any, section: str, table: dict[str, Any], source: str) -> None:
    types = {f.name: f.type for f in fields(target)}
    for key, value in table.items():
        where = f"{source}: [{section}] {key}"
        if key not in types:
            raise ConfigError(f"{where}: unknown key (known: {', '.join(sorted(types))})")
        setattr(target, key, _coerce(value, str(types[key]), where))


def _coerce(value: Any, kind: str, where: str) -> Any:
    got = type(value).__name__
    if kind == "str":
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {got} {value!r}")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {got} {value!r}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: expected a number ({kind}), got {got} {value!r}")
    if kind == "int":
        if isinstance(value, float) and not value.is_integer():
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return int(value)
    return float(value)


def load_config(path: str | None) -> RuleConfig:
    """Defaults when ``path`` is None, else the TOML file's overrides on top of them."""
    if path is None:
        return RuleConfig()
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such rules file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from exc
    return RuleConfig.from_dict(data, source=path)
