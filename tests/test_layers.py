"""The package's layers: each folder imports only from the layers below it, no module takes part
in an import cycle, and no function imports the package (a hidden cycle's usual disguise)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "adacm"

#: bottom to top; a module may import from its own layer and the ones before it
LAYERS = ("adacm.errors adacm.paths", "adacm.data", "adacm.models", "adacm.algorithms", "adacm.run",
          "adacm.report", "adacm.studies", "adacm.cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> int:
    for i, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes.split()):
            return i
    return -1  # the package's own __init__


def imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The package modules an import statement loads (``from adacm.x import y`` loads adacm.x.y if it is one)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
    return [n for n in names if n in MODULES]


def imports(path: Path) -> tuple[set[str], list[str]]:
    """(package modules imported at module level, package imports inside functions)."""
    tree = ast.parse(path.read_text())
    at_top: set[str] = set()
    local: list[str] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)) and imported(child):
                (local.extend(imported(child)) if in_function else at_top.update(imported(child)))
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree, False)
    return at_top - {module_name(path)}, local


GRAPH = {m: imports(p)[0] for m, p in MODULES.items()}


def test_every_module_has_a_layer() -> None:
    assert [m for m in MODULES if layer(m) < 0] == ["adacm"]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_only_from_its_layer_and_below(module: str) -> None:
    upward = sorted(m for m in GRAPH[module] if layer(m) > layer(module))
    assert not upward, f"{module} (layer {LAYERS[layer(module)]}) imports from above: {upward}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_function_imports_the_package(module: str) -> None:
    assert not imports(MODULES[module])[1], f"{module} imports the package inside a function"


def test_no_import_cycles() -> None:
    done: set[str] = set()

    def walk(module: str, path: list[str]) -> None:
        if module in path:
            raise AssertionError("import cycle: " + " → ".join(path[path.index(module):] + [module]))
        if module in done:
            return
        for target in sorted(GRAPH[module]):
            walk(target, path + [module])
        done.add(module)

    for module in sorted(GRAPH):
        walk(module, [])
