"""The README's two set-up commands are the ones CI and users run."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^    (\S.*)$", section, flags=re.M)


def test_readme_has_exactly_two_setup_commands() -> None:
    cmds = _setup_commands()
    assert len(cmds) == 2, cmds
    assert cmds[0].startswith("pip install -e .") and "lrwatch" in cmds[0]
    assert "pytest" in cmds[1]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "torch==2.13.0" in ci
    test_cmd = _setup_commands()[1]
    pattern = re.search(r"sed -n '(.*)' README.md", ci)
    assert pattern, "CI must read the test command from README.md"
    assert test_cmd.startswith("pip install -e") and "pytest" in test_cmd
