"""No import cycles in the package: between modules, and between its packages (templates,
engines, generation, ...). Lazy imports inside functions count too: they are cycles that only
wait for the right call order."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = "distilabel_magpie"


def _modules() -> dict[str, Path]:
    found = {}
    for path in (SRC / ROOT).rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _graph() -> nx.DiGraph:
    modules = _modules()
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                # `from pkg import sub` imports the module pkg.sub where there is one
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target in modules and target != name:
                    graph.add_edge(name, target)
    return graph


def _package(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def test_no_module_imports_one_that_imports_it_back():
    cycles = list(nx.simple_cycles(_graph()))
    assert cycles == [], "\n".join(" -> ".join(c + [c[0]]) for c in cycles[:10])


def test_no_package_imports_one_that_imports_it_back():
    packages = nx.DiGraph()
    for a, b in _graph().edges:
        if _package(a) != _package(b):
            packages.add_edge(_package(a), _package(b))
    cycles = list(nx.simple_cycles(packages))
    assert cycles == [], "\n".join(" -> ".join(c + [c[0]]) for c in cycles[:10])


def test_the_top_level_holds_only_packages_and_entry_modules():
    top = sorted(p.name for p in (SRC / ROOT).iterdir() if p.suffix == ".py")
    assert top == ["__init__.py", "cli.py", "errors.py", "pipelines.py"]
