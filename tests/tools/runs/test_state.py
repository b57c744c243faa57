"""The modules of `paddleclas_rdrop.tools.runs` keep no state of their own: what a run shares (its
checkpoints' thread, futures and queued best metric) is an object the run makes and closes, so two runs in
one process cannot see each other's. Module-level names are constants (deeply immutable), functions,
classes or modules, and no function rebinds a module name (`global`)."""

import ast
import enum
import importlib
import pathlib
import types

import pytest

import paddleclas_rdrop.tools.runs as runs

MODULES = sorted(path for path in pathlib.Path(runs.__file__).parent.glob("*.py"))


def immutable(value):
    if value is None or isinstance(value, (str, bytes, int, float, complex, bool, enum.Enum, range)):
        return True
    if isinstance(value, (tuple, frozenset)):
        return all(immutable(item) for item in value)
    if isinstance(value, types.MappingProxyType):
        return all(immutable(key) and immutable(item) for key, item in value.items())
    return False


def assigned_names(tree):
    """The names a module binds by assignment at its top level (also inside a top-level if/try)."""
    names = []
    for node in top_level(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [name.id for target in targets for name in ast.walk(target) if isinstance(name, ast.Name)]
    return names


def top_level(tree):
    """The top-level statements, descending into top-level if/try blocks, never into a function or class."""
    pending, found = list(tree.body), []
    while pending:
        node = pending.pop()
        found.append(node)
        if isinstance(node, (ast.If, ast.Try)):
            pending += node.body + node.orelse + getattr(node, "finalbody", []) + getattr(node, "handlers", [])
        if isinstance(node, ast.ExceptHandler):
            pending += node.body
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_a_runs_module_holds_only_constants_functions_and_classes(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module = importlib.import_module(f"paddleclas_rdrop.tools.runs.{path.stem}")
    names = assigned_names(tree)
    mutable = {name: type(getattr(module, name)).__name__ for name in names if not immutable(getattr(module, name))}
    assert not mutable, f"{path.name}: module-level state {mutable}"
    rebinds = [node.names for node in ast.walk(tree) if isinstance(node, ast.Global)]
    assert not rebinds, f"{path.name}: functions rebind module names {rebinds}"


def test_the_check_finds_the_state_it_is_for():
    assert not immutable([]) and not immutable({}) and not immutable((1, [])) and not immutable(set())
    from concurrent.futures import ThreadPoolExecutor

    executor = ThreadPoolExecutor(max_workers=1)
    assert not immutable(executor)
    executor.shutdown()
    assert immutable(("a", 1, None)) and immutable(types.MappingProxyType({"train": ("output_dir",)}))
    tree = ast.parse("A = 1\nif True:\n    B = []\ndef f():\n    C = {}\n")
    assert sorted(assigned_names(tree)) == ["A", "B"]
