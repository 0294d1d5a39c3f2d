"""The layout's rules: the local stack and the packaging import each other's modules
without cycles, and the app never imports either."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _runtime_imports(path: Path) -> set[str]:
    """Modules `path` imports when it runs (at import or in a function); imports under
    `if TYPE_CHECKING:` are for the type checker only and do not count."""
    tree = ast.parse(path.read_text())
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path.parent)
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for branch in node.orelse:
                visit(branch)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _graph(folder: str) -> dict[str, set[str]]:
    files = sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)
    modules = {_module_name(p): p for p in files}
    return {
        name: {m for m in _runtime_imports(path) if m in modules and m != name}
        for name, path in modules.items()
    }


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state:
                found = walk(target)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = walk(node)
            if found:
                return found
    return None


@pytest.mark.parametrize("folder", ["devstack", "deploy", "chalicelib"])
def test_no_import_cycles(folder: str):
    assert _cycle(_graph(folder)) is None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


# Only when chalice's CLI loads the app in the project's checkout, where devstack and deploy
# are (core.chalice_local): `chalice local` is checked by the local stack, `chalice
# package`/`deploy` by the packaging. In Lambda neither import is reached.
_CHALICE_LOCAL_GUARD = {
    "devstack.chalice_local",
    "devstack.chalice_local.serve_local_stage_only",
    "deploy.chalice_cli",
    "deploy.chalice_cli.check_cli",
}


def test_the_app_imports_neither_the_local_stack_nor_the_packaging():
    for path in sorted((ROOT / "chalicelib").rglob("*.py")):
        imported = _runtime_imports(path) - _CHALICE_LOCAL_GUARD
        assert not {m for m in imported if m.split(".")[0] in ("devstack", "deploy")}, path


def test_every_domain_error_has_its_own_row_in_the_problems_table():
    from chalicelib.core import errors
    from chalicelib.core.problems import PROBLEMS, problem_of

    defined = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, errors.DomainError)
    ]
    # Each kind of error has its row; a refinement of one (WriteContended is a
    # ServiceUnavailable) may share its base's.
    kinds = {e for e in defined if e is errors.DomainError or errors.DomainError in e.__bases__}
    assert kinds <= set(PROBLEMS) <= set(defined)
    slugs = [problem.slug for problem in PROBLEMS.values()]
    assert len(set(slugs)) == len(slugs)

    class Unlisted(errors.NotFound):
        pass

    assert problem_of(Unlisted("x")) == PROBLEMS[errors.NotFound]


def test_every_lambda_handler_string_names_its_handler():
    """Lambda imports `<module>.<function>` of each trigger: Chalice makes it from the module
    of the Blueprint the handler is declared on, so that module must define it."""
    import importlib

    from app import app

    configs = [*app.event_sources, *app.websocket_handlers.values()]
    assert configs
    for config in configs:
        module, _, attribute = config.handler_string.rpartition(".")
        handler = getattr(importlib.import_module(module), attribute)
        assert handler is app.handler_map[config.name], config.handler_string
