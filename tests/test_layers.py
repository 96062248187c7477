"""The import contract over every module of the package (read with ``ast``, nothing imported).

Every ``import`` counts: module level, inside functions and under ``TYPE_CHECKING``. A lazy
import hides a dependency from import time, not from the design.

- **Layers**: a module imports only its own layer or lower ones (:data:`LAYERS`, bottom first).
  Inside one layer anything goes, cycles aside. ``lrwatch`` itself (the public API) is the top:
  nothing inside the package imports it (the version lives in ``lrwatch._version``).
- **No cycles** between modules.
- **Third-party packages** that are heavy or UI: only where :data:`ONLY_IN` allows them.

A failure lists every offence as ``module (file:line[, how]) imports ...``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "lrwatch"

#: Bottom to top. A name stands for the module and everything under it.
LAYERS: list[tuple[str, ...]] = [
    # 1. base: values and pure functions, no IO and no other layer
    (
        "lrwatch._version",
        "lrwatch.numfmt",
        "lrwatch.scale",
        "lrwatch.lrchange",
        "lrwatch.records",
        "lrwatch.columns",
        "lrwatch.pyramid",
        "lrwatch.reduction",
        "lrwatch.series",
        "lrwatch.branches",
        "lrwatch.liveness",
        "lrwatch.rendezvous",
    ),
    ("lrwatch.losschoice", "lrwatch.formats", "lrwatch.store"),  # 2. parsing and storage
    ("lrwatch.sources",),  # 3. reading logs
    ("lrwatch.rules",),  # 4. diagnosis
    ("lrwatch.control",),  # 5. the control protocol, server and client
    ("lrwatch.train", "lrwatch.integrations"),  # 6. the training-side hook
    # 7. headless per-run controller; pictures of runs (lrwatch plot: store, rules, no UI)
    ("lrwatch.session", "lrwatch.picture"),
    # 8. the front ends, ordered among themselves: a demo knows no UI, the TUI runs demos,
    # a command opens the TUI; never the other way.
    ("lrwatch.demos",),  # 8a
    ("lrwatch.tui",),  # 8b
    ("lrwatch.serve",),  # 8b': the browser's server (it runs the TUI as a process, imports none)
    ("lrwatch.commands",),  # 8c
    ("lrwatch.cli", "lrwatch.__main__"),  # 9. the entry point
    ("lrwatch",),  # 10. the public API: may import anything; nothing imports it
]

#: Third-party packages allowed only under these prefixes (nowhere when empty).
ONLY_IN: dict[str, tuple[str, ...]] = {
    "torch": ("lrwatch.train", "lrwatch.integrations", "lrwatch.demos"),
    "textual": ("lrwatch.tui",),
    "rich": ("lrwatch.tui", "lrwatch.commands"),
    "transformers": ("lrwatch.integrations",),
    "lightning": ("lrwatch.integrations",),
    "pytorch_lightning": ("lrwatch.integrations",),
    # Tracker files are read without their packages (docs: sources/mlflow, formats/wandb).
    "wandb": (),
    "mlflow": (),
    "tensorboard": (),
    "tensorflow": (),
    # NVML (nvidia-ml-py, the [gpu] extra): the training side's system metrics only.
    "pynvml": ("lrwatch.train",),
    # Pillow (the [png] extra) rasterises lrwatch plot's PNGs.
    "PIL": ("lrwatch.picture",),
    # lrwatch serve: textual-serve and its web server, nowhere else.
    "textual_serve": ("lrwatch.serve",),
    "aiohttp": ("lrwatch.serve",),
}


@dataclass(frozen=True)
class Import:
    """One import statement's target, resolved to a dotted name."""

    importer: str
    target: str
    where: str  # "lrwatch/x.py:12" plus ", in a function" / ", under TYPE_CHECKING"

    def __str__(self) -> str:
        return f"{self.importer} ({self.where}) imports {self.target}"


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _walk(node: ast.AST, how: str = "") -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import under ``node`` with how it runs (module level, in a function, ...)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, how
        elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _walk(child, how or ", in a function")
        elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            for stmt in child.body:
                yield from _walk(ast.Module(body=[stmt], type_ignores=[]), ", under TYPE_CHECKING")
            for stmt in child.orelse:
                yield from _walk(ast.Module(body=[stmt], type_ignores=[]), how)
        else:
            yield from _walk(child, how)


def imports(name: str, path: Path, known: dict[str, Path]) -> list[Import]:
    """What ``name`` imports: ``from a import b`` is ``a.b`` where that is a module, else ``a``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    out = []
    for node, how in _walk(ast.parse(path.read_text(), str(path))):
        where = f"{shown}:{node.lineno}{how}"
        if isinstance(node, ast.Import):
            out += [Import(name, alias.name, where) for alias in node.names]
            continue
        base = node.module or ""
        if node.level:
            parent = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*parent, base] if base else parent)
        subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known]
        targets = subs if len(subs) == len(node.names) else [base, *subs]
        out += [Import(name, t, where) for t in targets]
    return out


def _graph() -> tuple[dict[str, Path], list[Import]]:
    known = modules()
    return known, [imp for name, path in known.items() for imp in imports(name, path, known)]


def _covers(prefix: str, name: str) -> bool:
    return name == prefix or (prefix != "lrwatch" and name.startswith(prefix + "."))


def layer_of(name: str) -> int | None:
    """The index in :data:`LAYERS` of the longest prefix that covers ``name``."""
    best: tuple[int, int] | None = None
    for i, layer in enumerate(LAYERS):
        for prefix in layer:
            if _covers(prefix, name) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), i)
    return None if best is None else best[1]


def _layer_name(i: int) -> str:
    return " / ".join(LAYERS[i])


def test_every_module_is_in_a_layer() -> None:
    lost = [name for name in modules() if layer_of(name) is None]
    assert not lost, f"modules in no layer (add them to LAYERS in {__file__}): {lost}"


def test_no_module_imports_a_higher_layer() -> None:
    _, edges = _graph()
    bad = []
    for imp in edges:
        mine, theirs = layer_of(imp.importer), layer_of(imp.target)
        if mine is not None and theirs is not None and theirs > mine:
            bad.append(f"{imp}: layer {_layer_name(theirs)} is above {_layer_name(mine)}")
    assert not bad, "imports of a higher layer:\n" + "\n".join(bad)


def test_heavy_and_ui_packages_only_where_allowed() -> None:
    _, edges = _graph()
    bad = []
    for imp in edges:
        top = imp.target.split(".")[0]
        allowed = ONLY_IN.get(top)
        if allowed is not None and not any(_covers(p, imp.importer) for p in allowed):
            bad.append(f"{imp}: {top} is allowed only in {', '.join(allowed) or 'no module'}")
    assert not bad, "third-party imports out of place:\n" + "\n".join(bad)


def find_cycles(
    edges: list[Import], known: dict[str, Path]
) -> list[tuple[list[str], list[Import]]]:
    """Each group of modules that import each other (Tarjan's strongly connected components),
    sorted, with one shortest cycle through its first module."""
    out: dict[str, dict[str, Import]] = {name: {} for name in known}
    for imp in edges:
        if imp.target in known and imp.target != imp.importer:
            out[imp.importer].setdefault(imp.target, imp)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(v: str) -> None:  # recursion depth is bounded by the package's few hundred modules
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in out[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(out):
        if v not in index:
            visit(v)
    return [(sorted(g), _shortest_cycle(min(g), g, out)) for g in groups]


def _shortest_cycle(start: str, group: set[str], out: dict[str, dict[str, Import]]) -> list[Import]:
    """Breadth-first from ``start`` back to itself, inside ``group``."""
    paths: dict[str, list[Import]] = {start: []}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w, imp in sorted(out[v].items()):
                if w == start:
                    return [*paths[v], imp]
                if w in group and w not in paths:
                    paths[w] = [*paths[v], imp]
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover


def test_no_import_cycles() -> None:
    known, edges = _graph()
    cycles = find_cycles(edges, known)
    text = [
        f"{len(members)} modules ({', '.join(members)}), e.g. "
        + " -> ".join([c[0].importer] + [f"{i.target} [{i.where}]" for i in c])
        for members, c in cycles
    ]
    assert not cycles, f"{len(cycles)} import cycle(s):\n" + "\n".join(text)


def test_the_contract_sees_every_kind_of_import(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text(
        "from typing import TYPE_CHECKING\n"
        "import torch.nn\n"
        "from . import sibling\n"
        "from ..up import thing\n"
        "if TYPE_CHECKING:\n"
        "    from lrwatch.tui.app import App\n"
        "def f():\n"
        "    from lrwatch.records import Metrics\n"
    )
    known = {"lrwatch.pkg.sibling": src, "lrwatch.records": src}
    got = [(i.target, i.where.split(":")[1]) for i in imports("lrwatch.pkg.m", src, known)]
    assert got == [
        ("typing", "1"),
        ("torch.nn", "2"),
        ("lrwatch.pkg.sibling", "3"),
        ("lrwatch.up", "4"),
        ("lrwatch.tui.app", "6, under TYPE_CHECKING"),
        ("lrwatch.records", "8, in a function"),
    ]
    a, b = Import("lrwatch.a", "lrwatch.b", "a.py:1"), Import("lrwatch.b", "lrwatch.a", "b.py:1")
    assert find_cycles([a, b], {"lrwatch.a": src, "lrwatch.b": src}) == [
        (["lrwatch.a", "lrwatch.b"], [a, b])
    ]
    assert layer_of("lrwatch.tui.widgets.charts") == layer_of("lrwatch.tui") == 8
    assert layer_of("lrwatch") == len(LAYERS) - 1 and layer_of("lrwatchx") is None
