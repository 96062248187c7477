"""Rules read a RunContext and report through a Reporter: they know neither the engine nor
each other, so a rule runs against any context and reporter, and the engine's bookkeeping
(reopening, escalating) is one place."""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path

import lrwatch.rules
from lrwatch.lrchange import LRChange
from lrwatch.records import Metrics
from lrwatch.rules import Engine, Finding, RuleConfig
from lrwatch.rules.config import ValNanConfig
from lrwatch.rules.finding import scale_action, set_action
from lrwatch.rules.loss_stats import LossStats
from lrwatch.rules.nan_inf import ValNan
from lrwatch.rules.reporter import FindingBook, FindingFields

RULES_DIR = Path(lrwatch.rules.__file__).parent
#: The modules of the engine's side: they may know the concrete state and book.
ENGINE_SIDE = {"__init__.py", "engine.py", "context.py", "reporter.py"}
#: What the engine's side keeps to itself.
PRIVATE = {"lrwatch.rules.engine": None, "lrwatch.rules.context": {"RunState"}}


def _imports(path: Path) -> list[tuple[str, set[str]]]:
    tree = ast.parse(path.read_text())
    out: list[tuple[str, set[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.module, {a.name for a in node.names}))
        elif isinstance(node, ast.Import):
            out.extend((a.name, set()) for a in node.names)
    return out


def test_no_rule_module_imports_the_engine_or_its_state() -> None:
    modules = sorted(p for p in RULES_DIR.glob("*.py") if p.name not in ENGINE_SIDE)
    assert {"divergence.py", "nan_inf.py", "overfitting.py", "grad_explosion.py"} <= {
        p.name for p in modules
    }
    for path in modules:
        for module, names in _imports(path):
            assert module != "lrwatch.rules.engine", f"{path.name} imports the engine"
            if module == "lrwatch.rules.context":
                assert names == {"RunContext"}, f"{path.name} imports {names} from context"
            if module == "lrwatch.rules.reporter":
                assert names <= {"Reporter", "FindingFields"}, f"{path.name} imports {names}"
        assert "self.engine" not in path.read_text(), path.name


def test_the_junk_drawer_is_gone() -> None:
    assert not (RULES_DIR / "other_rules.py").exists()


@dataclass
class FakeContext:
    """A RunContext without an engine: plain values a test sets."""

    config: RuleConfig = field(default_factory=RuleConfig)
    step: int = 0
    points: int = 0
    val_points: int = 0
    loss: LossStats = field(default_factory=lambda: LossStats(0.9, 50, 3))
    lr: float | None = 0.1
    lr_max: float | None = 0.1
    lr_rising: bool = False
    lr_decaying: bool = False
    saw_warmup: bool = False
    lr_logged: bool = True
    optimizer: str | None = None
    shock_left: int = 0
    open_symptoms: set[str] = field(default_factory=set)

    def is_open(self, symptom: str) -> bool:
        return symptom in self.open_symptoms


def test_a_rule_runs_against_any_context_and_reporter() -> None:
    ctx = FakeContext()
    book = FindingBook("r", reopen_within=50, points=lambda: ctx.points)
    rule = ValNan(ctx, book.reporter(ValNan.symptom), ValNanConfig())
    ctx.open_symptoms.add("nan_inf")  # the train loss blew up too: one problem, not two
    rule.on_val(10, float("nan"))
    assert rule.active is None and book.findings == []
    ctx.open_symptoms.clear()
    rule.on_val(11, float("nan"))
    (f,) = book.findings
    assert (f.id, f.severity, f.evidence["lr"]) == ("r/val_nan@11", "error", 0.1)
    assert book.is_open("val_nan") and not book.is_open("nan_inf")
    rule.on_val(12, 1.0)
    assert f.resolved and f.resolved_step == 12 and not book.is_open("val_nan")


def test_a_reporter_escalates_never_demotes_and_reopens_within_the_window() -> None:
    points = [0]
    book = FindingBook("", reopen_within=5, points=lambda: points[0])
    out = book.reporter("loss_spike")
    fields: FindingFields = {"message": "m", "action": scale_action(0.5)}
    f = out.report(3, "info", **fields)
    assert out.report(4, "warning") is f and f.severity == "warning"
    assert out.report(5, "info") is f and (f.severity, f.last_step) == ("warning", 5)
    out.resolve(6, "calm")
    assert f.resolved and f.evidence["resolved_because"] == "calm"
    points[0] = 5
    assert out.report(7, "info") is f and not f.resolved and f.evidence["reopened"] == 1
    out.resolve(8, reopenable=False)  # what follows is a new episode
    g = out.report(9, "info")
    assert (
        g is not f
        and g.id == "loss_spike@9"
        and [x.id for x in book.findings]
        == [
            "loss_spike@3",
            "loss_spike@9",
        ]
    )
    out.resolve(10)
    points[0] = 11  # 6 points later: beyond reopen_within
    assert out.report(11, "info").id == "loss_spike@11"


def test_actions_are_lr_changes_with_the_same_json() -> None:
    assert scale_action(0.1) == LRChange.scale(0.1) == {"op": "scale_lr", "factor": 0.1}
    assert set_action(0.3, 0.1) == {"op": "set_lr", "value": 0.03}
    assert set_action(None, 0.1) == {"op": "scale_lr", "factor": 0.1}
    f = Finding("divergence", "error", 1, 1, action=scale_action(0.1))
    assert json.loads(json.dumps(f.to_dict()))["action"] == {"op": "scale_lr", "factor": 0.1}
    engine = Engine()
    engine.feed([Metrics(i, {"loss": 1.0, "lr": 0.1}) for i in range(5)])
    engine.feed([Metrics(5, {"loss": float("nan"), "lr": 0.1})])
    (nan,) = engine.findings
    assert isinstance(nan.action, LRChange) and nan.action == {"op": "set_lr", "value": 0.01}
