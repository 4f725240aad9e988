"""The layering of `daemon/` (docs/ARCHITECTURE.md, "The rule"), held by reading the code.

Every import of a daemon module counts, wherever it is written: at the top, inside a
function, under TYPE_CHECKING. The packages are drawn in rows, the pure ones at the
bottom; a package imports only packages of lower rows, no module imports another in
a circle, and only the edges take the composition root `App`. The sizes the house
keeps (a module up to 500 lines, a function up to 80) are held here too, for bench/
as well.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
DAEMON = PROJECT / "daemon"

# Bottom row first. A package may import its own modules and those of lower rows.
ROWS: tuple[frozenset[str], ...] = (
    frozenset({"mail", "sla"}),  # pure: values in, values out
    frozenset({"config", "trust"}),  # trust: who a letter is proven to be from
    frozenset({"scan"}),  # spam and malware verdicts, and the scanners' clients
    frozenset({"storage"}),
    frozenset({"tickets"}),
    frozenset({"outbound"}),
    frozenset({"reports"}),  # the report, digests: read the rows, queue letters
    frozenset({"staff"}),
    frozenset({"app"}),  # daemon/app.py, the composition root
    frozenset({"pipeline"}),
    frozenset({"intake"}),
    frozenset({"service"}),
    frozenset({"cli"}),
)
# The names the project's layout promises, kept as faces of the packages: each
# imports only its package, and nothing inside daemon/ imports a face.
FACES = {"daemon.ingest": "intake", "daemon.threading_tid": "mail",
         "daemon.notifier": "outbound"}
TAKES_APP = frozenset({"pipeline", "intake", "service", "cli"})
RANK = {package: i for i, row in enumerate(ROWS) for package in row}


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def daemon_files() -> Iterator[Path]:
    for path in sorted(DAEMON.rglob("*.py")):
        if "migrations" not in path.relative_to(DAEMON).parts:
            yield path


MODULES = {module_name(p): p for p in daemon_files()}


def imports_of(path: Path) -> set[str]:
    """The daemon modules a file imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("daemon"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
                node.module == "daemon" or node.module.startswith("daemon.")):
            for alias in node.names:  # `from daemon.mail import letter` names a module
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
    return found - {module_name(path)}


GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_graph_is_read() -> None:
    # A reader that finds nothing would hold every rule below.
    assert "daemon.mail.letter" in GRAPH["daemon.pipeline.steps.parse"]
    assert "daemon.pipeline.context" in GRAPH["daemon.pipeline.runner"]
    assert "daemon.app" in GRAPH["daemon.intake.ingest"]


def test_no_module_imports_another_in_a_circle() -> None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for dep in sorted(GRAPH.get(module, ())):
            if state.get(dep) == 1:
                circle = path[path.index(dep):] + [dep]
                pytest.fail("import circle: " + " -> ".join(circle))
            if dep not in state:
                visit(dep)
        path.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


def test_every_package_has_a_row() -> None:
    packages = {package_of(m) for m in MODULES} - {""}
    faces = {package_of(f) for f in FACES}
    assert packages - faces == set(RANK), "a new package needs its row in ROWS (and the docs)"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m not in FACES))
def test_a_package_imports_only_rows_below_it(module: str) -> None:
    own = package_of(module)
    if not own:
        return  # daemon/__init__.py
    for dep in GRAPH[module]:
        assert dep not in FACES, f"{module} imports the face {dep}; import its package"
        theirs = package_of(dep)
        if theirs and theirs != own:
            assert RANK[theirs] < RANK[own], (
                f"{module} ({own}) imports {dep} ({theirs}), which is drawn above it")


@pytest.mark.parametrize("face", sorted(FACES))
def test_a_face_shows_only_its_package(face: str) -> None:
    assert {package_of(dep) for dep in GRAPH[face]} == {FACES[face]}


def test_only_the_edges_take_the_app() -> None:
    takers = {m for m, deps in GRAPH.items() if "daemon.app" in deps}
    assert takers, "nothing takes App: the reader is broken"
    assert {package_of(m) for m in takers} <= TAKES_APP, sorted(
        m for m in takers if package_of(m) not in TAKES_APP)


def test_package_inits_import_nothing() -> None:
    for name, path in MODULES.items():
        if path.name != "__init__.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)], (
            f"{name}: a package's __init__ stays empty of imports (start-up cost, circles)")


def _sized_files() -> Iterator[Path]:
    yield from daemon_files()
    bench = PROJECT / "bench"
    # Not the venvs `make bench` makes for its peer and tools (.peer-venv, .tools-venv).
    yield from sorted(p for p in bench.rglob("*.py")
                      if not any(part.startswith(".") for part in p.relative_to(bench).parts))


@pytest.mark.parametrize("path", list(_sized_files()),
                         ids=lambda p: str(p.relative_to(PROJECT)))
def test_small_modules_and_functions(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    lines = len(text.splitlines())
    assert lines <= 500, f"{path.name} is {lines} lines: split it along a seam you can name"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            assert length <= 80, f"{path.name}: {node.name} is {length} lines"
