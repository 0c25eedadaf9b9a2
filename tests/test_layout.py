"""The layout shows the pipeline: each stage imports only itself and the stages before it.

Function-local imports count too: a cycle hidden inside a function is still a cycle.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tracker"
# Lowest first. The shared records and helpers at the top level come before every stage.
STAGES = ["", "store", "judgement", "ingest", "publish", "web", "ops", "cli"]
MAX_LINES = 450


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def stage(module: str) -> str:
    parts = module.split(".")
    if parts[1:] == ["__main__"]:  # ``python -m tracker`` is the command line
        return "cli"
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else ""


def imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The project's modules that ``module`` imports, wherever in the file the import stands."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in known and name != module)
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports(name, path, set(found)) for name, path in found.items()}


def test_every_import_points_down_the_pipeline():
    wrong = [
        f"{module} ({stage(module) or 'shared'}) imports {target} ({stage(target) or 'shared'})"
        for module, targets in graph().items() for target in targets
        if STAGES.index(stage(target)) > STAGES.index(stage(module))
    ]
    assert wrong == []


def test_no_import_cycle():
    edges = graph()
    # The package facade re-exports its modules: importing a sub-module through it is no cycle.
    for module in edges:
        edges[module] = {t for t in edges[module] if not module.startswith(t + ".")}
    done: set[str] = set()
    while len(done) < len(edges):
        ready = {m for m in edges if m not in done and edges[m] <= done}
        assert ready, f"import cycle among {sorted(set(edges) - done)}"
        done |= ready


@pytest.mark.parametrize("name", sorted(modules()))
def test_modules_stay_small(name):
    lines = modules()[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{name} has {lines} lines"
