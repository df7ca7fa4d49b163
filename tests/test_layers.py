"""The package's folders are its layers: data flows one way, and no import points back up.

    data -> functional, nets -> _base, evaluation -> meta, transfer -> pretrained, guide
         -> exercises, plotting -> widgets -> serve

Every import is counted, the ones inside functions too (a function-local import back up is still
a dependency that makes the lower layer untestable without the higher one).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mtlviz"

#: Layer of each top-level part of the package, lowest first. A module may import from its own
#: part and from lower layers only; meta and transfer share a layer and never import each other.
LAYERS = {
    "_validation": 0, "_memory": 0, "source": 0,
    "data": 1,
    "functional": 2, "nets": 2, "reference": 2,
    "_base": 3, "evaluation": 3,
    "meta": 4, "transfer": 4,
    "pretrained": 5, "guide": 5,
    "exercises": 6, "plotting": 6,
    "widgets": 7,
    "serve": 8,
}


def module_name(path: Path) -> str:
    parts = ("mtlviz",) + path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:]) if "." in name else Path()
    return (PACKAGE / relative).with_suffix(".py").exists() or (PACKAGE / relative / "__init__.py").exists()


def imports_of(path: Path):
    """The mtlviz modules ``path`` imports (module-level and function-local), with line numbers."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    return imports_in(path.read_text(), package)


def imports_in(text: str, package: str):
    """The mtlviz modules that code in ``package`` imports, with line numbers."""
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "mtlviz":
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "mtlviz":
                continue
            for alias in node.names:  # `from mtlviz.meta import landscape` imports a module
                candidate = f"{target}.{alias.name}"
                yield (candidate if is_module(candidate) else target), node.lineno


def part(name: str) -> str:
    return name.split(".")[1] if name.count(".") else ""


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "share" not in p.parts)


def test_every_part_of_the_package_has_a_layer():
    """A new top-level module without a layer would escape the check below."""
    parts = {part(module_name(p)) for p in MODULES} - {""}
    assert parts <= set(LAYERS), f"give these a layer in LAYERS: {sorted(parts - set(LAYERS))}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_points_back_up(path):
    """If this fails, a lower layer depends on a higher one: e.g. an estimator that needs the
    shipped-weights loader, or the maths that needs a widget; the layers can no longer be used,
    tested or read bottom-up, and cycles follow."""
    source = module_name(path)
    if source == "mtlviz":
        return  # the package's lazy facade names public classes from every layer
    here = part(source)
    for message in violations(source, imports_of(path)):
        pytest.fail(message)


def violations(source: str, imports):
    here = part(source)
    for target, line in imports:
        there = part(target)
        if there == "":
            yield f"{source}:{line} imports the package facade mtlviz (import from the defining module)"
        elif there == here:
            continue
        elif LAYERS[there] > LAYERS[here]:
            yield f"{source}:{line} imports {target}: layer {there} ({LAYERS[there]}) is above {here} ({LAYERS[here]})"
        elif {here, there} == {"meta", "transfer"}:
            yield f"{source}:{line} imports {target}: meta and transfer are siblings"


def test_no_import_cycle():
    """If this fails, two modules import each other (at module level or inside functions): the
    import order then decides whether a name exists, and neither can be understood alone."""
    graph = {module_name(p): {t for t, _ in imports_of(p)} for p in MODULES}
    graph = {m: {t for t in ts if t in graph and t != m} for m, ts in graph.items() if m != "mtlviz"}
    graph = {m: ts - {"mtlviz"} for m, ts in graph.items()}
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            # a package's __init__ importing its own submodule is not a cycle unless the submodule imports it back
            if state.get(nxt) == "open":
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)


def test_the_checks_see_a_violation():
    """The checks above must be able to fail: a function-local import of a higher layer, a
    sibling import and a facade import are each reported."""
    code = ("from .._validation import check_int\n"
            "def f():\n    from ..widgets import maml_dashboard\n    from ..transfer.domain import coral_loss\n"
            "    from mtlviz import MAML\n")
    found = list(violations("mtlviz.meta.x", imports_in(code, "mtlviz.meta")))
    assert len(found) == 3, found
    assert "mtlviz.widgets.maml_dashboard" in found[0] and "siblings" in found[1] and "facade" in found[2]
