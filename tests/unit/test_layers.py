"""The package's layout: imports run downwards only, no module imports itself back, and the wheel lists
every package.

Layers, top to bottom: interfaces -> evaluation -> core -> answer -> retrieval -> library -> models ->
config / text / errors / failpoints. A module may import from its own folder and from any layer below
it, never from one above — not at module level, not inside a function, not under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "assistant"

# The first part of a module's name under ``assistant.`` -> its layer (higher imports lower).
LAYERS: dict[str, int] = {
    "interfaces": 7,
    "evaluation": 6,
    "core": 5,
    "answer": 4,
    "retrieval": 3,
    "library": 2,
    "models": 1,
    "config": 0,
    "text": 0,
    "errors": 0,
    "failpoints": 0,
}
FACADE = "assistant"  # assistant/__init__.py re-exports the public API; nothing inside imports it


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(path: Path, name: str, known: set[str]) -> Iterator[tuple[int, str]]:
    """(line, module) for every import of an ``assistant`` module anywhere in the file."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == FACADE:
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            if source.split(".")[0] != FACADE:
                continue
            for alias in node.names:
                child = f"{source}.{alias.name}"
                yield node.lineno, child if child in known else source


def layer(name: str) -> int | None:
    parts = name.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 else None


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {
        name: {target for _, target in imported(path, name, known) if target != name}
        for name, path in found.items()
    }


def test_the_layers_cover_every_module() -> None:
    unplaced = [name for name in modules() if name != FACADE and layer(name) is None]
    assert not unplaced, f"modules outside every layer (add them to LAYERS): {unplaced}"


def test_no_module_imports_a_higher_layer() -> None:
    found = modules()
    known = set(found)
    upward = []
    for name, path in found.items():
        if name == FACADE:
            continue
        for line, target in imported(path, name, known):
            if target == FACADE:
                upward.append(f"{path.relative_to(REPO)}:{line} imports the package facade {FACADE!r}")
            elif (layer(target) or 0) > (layer(name) or 0):
                upward.append(f"{path.relative_to(REPO)}:{line} ({name}) imports {target}, a higher layer")
    assert not upward, "\n".join(upward)


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the list of modules around it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_there_is_no_import_cycle() -> None:
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_wheel_lists_every_package() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    on_disk = {module_name(p.parent / "__init__.py") for p in PACKAGE.rglob("__init__.py")}
    listed = set(config["packages"])
    assert on_disk <= listed, f"packages missing from pyproject.toml: {sorted(on_disk - listed)}"
    # the one package that is not a folder of assistant/: the prompts, mapped from prompts/
    assert listed - on_disk == {"assistant.prompt_files"}
    assert config["package-dir"]["assistant.prompt_files"] == "prompts"
    assert sorted(p.name for p in (REPO / "prompts").glob("*.md")) == [
        "answer.md",
        "condense.md",
        "reader.md",
        "system.md",
    ]
