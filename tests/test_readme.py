"""The README's two set-up commands are the ones CI and users run."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^    (\S.*)$", section, flags=re.M)


def test_readme_has_exactly_two_setup_commands() -> None:
    cmds = _setup_commands()
    assert len(cmds) == 2, cmds
    main, tests = cmds
    assert "torch==2.13.0" in main and main.endswith("lrwatch demo")
    assert "torch==2.13.0" in tests and "'.[test]'" in tests and tests.endswith("pytest -q")


def test_ci_extracts_the_readme_test_command() -> None:
    """Run the extraction part of .ci/run and compare with the README's second command."""
    ci = (ROOT / ".ci" / "run").read_text()
    snippet = ci[ci.index("test_cmd=$(") : ci.index("\nif [ -z")]
    out = subprocess.run(
        ["bash", "-c", snippet + '\nprintf %s "$test_cmd"'],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == _setup_commands()[1]
    assert "torch==2.13.0" in ci
