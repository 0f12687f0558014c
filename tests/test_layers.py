"""The house rules of docs/architecture.md that a reader cannot see from one file: which layer may
import which, no import cycles between the project's modules, and permission decisions kept out of
views (templates read ``study_perms``). Read from the source with ``ast``: nothing is imported."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from accounts.policy import Perm

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("accounts", "analysis", "config", "interop", "jobs", "participants")

# Modules owned by branches being written in parallel (issue 9's note): they still import their task
# to enqueue it and decide roles in their views. Remove an entry once its module follows the rule;
# test_allow_lists_are_not_stale fails when an entry is no longer needed.
SENDS_TASK_BY_IMPORT: dict[str, str] = {}
DECIDES_ROLES_IN_VIEW: set[str] = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                out[_module_name(path)] = path
    return out


SOURCES = _sources()


def _is_package(name: str) -> bool:
    return SOURCES.get(name, Path()).name == "__init__.py"


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(module: str) -> Iterator[tuple[str, bool]]:
    """(project module imported, whether at module level) for every import statement of a module,
    function bodies included; ``if TYPE_CHECKING:`` blocks are left out (never run)."""
    tree = ast.parse(SOURCES[module].read_text(encoding="utf-8"))
    package = module if _is_package(module) else module.rpartition(".")[0]

    def visit(node: ast.AST, top: bool) -> Iterator[tuple[str, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name in SOURCES:
                        yield alias.name, top
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (child.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in child.names:
                    sub = f"{base}.{alias.name}"
                    if sub in SOURCES:
                        yield sub, top
                    elif base in SOURCES:
                        yield base, top
            inner = top and not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            yield from visit(child, inner)

    yield from visit(tree, True)


GRAPH = {m: sorted(set(_imports(m))) for m in SOURCES}


def _layer(module: str) -> str | None:
    """The layer a module belongs to: the last of its parts that names one (``analysis.coding.services.codings``
    is a service, ``accounts.api`` an API module)."""
    for part in reversed(module.split(".")):
        if part in ("services", "selectors", "views", "api", "tasks"):
            return part
    return None


def test_the_graph_sees_function_level_imports() -> None:
    """The checks below are only as good as the parser: it must see an import inside a function."""
    assert ("participants.consent_rules", False) in GRAPH["accounts.policy"]  # in may_code_transcript
    assert ("analysis.coding.services.assignments", True) in GRAPH["analysis.coding.tasks"]


@pytest.mark.parametrize("module", sorted(m for m in SOURCES if _layer(m) in ("services", "selectors")))
def test_services_and_selectors_never_import_tasks_views_or_api(module: str) -> None:
    """Services write and selectors read; pages, the API and tasks call them, never the other way
    round. A job is sent by its task's name (``job_create(task="app.name")``), so no service imports
    its tasks module, not even inside a function."""
    wrong = [(m, "module level" if top else "inside a function") for m, top in GRAPH[module]
             if _layer(m) in ("tasks", "views", "api") and SENDS_TASK_BY_IMPORT.get(module) != m]
    assert not wrong, f"{module} imports {wrong}"


def _cycles(edges: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(edges.get(nxt, []))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))
    return out


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]
    assert _cycles({"a": ["b"], "b": [], "c": ["a"]}) == []


def test_no_import_cycle_between_modules() -> None:
    """A module never imports one that imports it back, directly or round a loop, at its top or inside
    a function: an import hidden in a function body is still a cycle, only deferred to run time."""
    edges = {m: [t for t, _top in GRAPH[m] if t != m and SENDS_TASK_BY_IMPORT.get(m) != t] for m in SOURCES}
    assert _cycles(edges) == []


# Permission decisions stay out of views ----------------------------------------------------------------


def _calls(module: str, name: str) -> list[int]:
    tree = ast.parse(SOURCES[module].read_text(encoding="utf-8"))
    return [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call) and (
        (isinstance(n.func, ast.Attribute) and n.func.attr == name)
        or (isinstance(n.func, ast.Name) and n.func.id == name))]


@pytest.mark.parametrize("module", sorted(m for m in SOURCES if _layer(m) in ("views", "api")))
def test_views_do_not_decide_roles(module: str) -> None:
    """Pages and API views never ask ``role_allows``: a page's template reads ``study_perms`` (put in
    every study page's context by accounts/context_processors.py), a read that depends on a permission
    asks a selector, and an API view declares ``StudyPermission(Perm.X)``."""
    if module in DECIDES_ROLES_IN_VIEW:
        pytest.skip("owned by a parallel branch (see DECIDES_ROLES_IN_VIEW)")
    assert _calls(module, "role_allows") == [], f"{module} calls policy.role_allows"


def test_allow_lists_are_not_stale() -> None:
    for module, task_module in SENDS_TASK_BY_IMPORT.items():
        assert (task_module, False) in GRAPH[module] or (task_module, True) in GRAPH[module], module
    for module in DECIDES_ROLES_IN_VIEW:
        assert _calls(module, "role_allows"), module


def test_templates_name_real_permissions() -> None:
    """``study_perms.<name>`` in a template is a Perm member; a typo would silently read as false."""
    names = {p.name.lower() for p in Perm}
    used: dict[str, set[str]] = {}
    for path in (ROOT / "templates").rglob("*.html"):
        for name in re.findall(r"study_perms\.(\w+)", path.read_text(encoding="utf-8")):
            used.setdefault(name.lower(), set()).add(path.name)
    assert used, "no template reads study_perms"
    assert {n: sorted(files) for n, files in used.items() if n not in names} == {}
