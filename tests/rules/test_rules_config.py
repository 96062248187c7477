"""TOML overrides, and errors that name the bad section/key."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrwatch.rules import ConfigError, Engine, RuleConfig, load_config


def write(tmp_path: Path, text: str) -> str:
    p = tmp_path / "rules.toml"
    p.write_text(text)
    return str(p)


def test_defaults_without_a_file() -> None:
    assert load_config(None) == RuleConfig()
    assert RuleConfig().divergence.factor == 4.0


def test_overrides_and_int_for_float(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "[divergence]\nfactor = 5\n[plateau]\nenabled = false\n"))
    assert cfg.divergence.factor == 5.0 and isinstance(cfg.divergence.factor, float)
    assert cfg.plateau.enabled is False
    assert cfg.loss_spike.z == RuleConfig().loss_spike.z


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[divergense]\nfactor = 4\n", "[divergense]"),
        ("[divergence]\nfactr = 4\n", "factr"),
        ('[divergence]\nfactor = "4"\n', "[divergence] factor"),
        ("[plateau]\nenabled = 1\n", "[plateau] enabled"),
        ("[plateau]\npatience = 2.5\n", "[plateau] patience"),
        ("divergence = 3\n", "[divergence]"),
        ("[divergence\n", "invalid TOML"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace("[", r"\[").replace("]", r"\]")):
        load_config(write(tmp_path, text))


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such rules file"):
        load_config(str(tmp_path / "nope.toml"))


def test_disabled_rule_reports_nothing() -> None:
    from lrwatch.records import Metrics

    cfg = RuleConfig()
    cfg.nan_inf.enabled = False
    engine = Engine(cfg)
    engine.feed([Metrics(i, {"loss": float("nan")}) for i in range(10)])
    assert engine.findings == []
