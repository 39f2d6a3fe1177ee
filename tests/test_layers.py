"""The package's rooms import only the rooms before them in the data flow (issue 15), so the layout is the
architecture: ``resources -> api -> sheets -> export -> validate -> plan -> run -> cli``, with the shared base
(``errors``, ``config``, ``_version``) under all of them and the sandbox beside them (it knows only tables).

Imports under ``if TYPE_CHECKING:`` are annotations, not dependencies, and are left out; so is the CLI's lazy
loading, which happens inside its command functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import bulkio

PACKAGE = Path(bulkio.__file__).parent
BASE = ("_version", "errors", "config")
ROOMS = ("resources", "api", "sheets", "export", "validate", "plan", "run", "cli")
ALLOWED = {
    **{room: set(BASE) | set(ROOMS[:i + 1]) for i, room in enumerate(ROOMS)},
    "sandbox": {*BASE, "resources", "sandbox"},
    "errors": {"errors"},
    "_version": {"_version"},
    "config": {"config", "errors"},
}


def _room(module: str) -> str:
    """The room of a module named from the package down (``api.client`` -> ``api``)."""
    return module.split(".", 1)[0]


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module below `bulkio`) of each run-time import of `path` that names a bulkio module."""
    tree = ast.parse(path.read_text())
    annotations = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and ast.unparse(block.test) == "TYPE_CHECKING" for node in ast.walk(block)}
    here = path.relative_to(PACKAGE).with_suffix("").parts
    package = here[:-1]  # a module's package; an __init__'s own folder
    found = []
    for node in ast.walk(tree):
        if id(node) in annotations or not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name == "bulkio" or a.name.startswith("bulkio.")]
            found += [(node.lineno, n.removeprefix("bulkio").lstrip(".")) for n in names]
        elif node.level:
            base = package[:len(package) - (node.level - 1)]
            target = ".".join([*base, *([node.module] if node.module else [])])
            if not target:  # `from . import x` at the top: each name is a module
                found += [(node.lineno, a.name) for a in node.names]
            else:
                found.append((node.lineno, target))
        elif node.module and (node.module == "bulkio" or node.module.startswith("bulkio.")):
            found.append((node.lineno, node.module.removeprefix("bulkio").lstrip(".")))
    return [(line, module) for line, module in found if module]


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_imports_only_the_rooms_before_its_own(path: Path) -> None:
    room = _room(".".join(path.relative_to(PACKAGE).with_suffix("").parts))
    cli_lazy = room == "cli"  # the CLI may import any room (lazily, to keep `bulkio --help` fast)
    for line, module in _imports(path):
        if cli_lazy:
            continue
        assert _room(module) in ALLOWED[room], \
            f"bulkio/{path.relative_to(PACKAGE)}:{line} imports bulkio.{module}, a room above {room}"


def test_the_rooms_are_the_packages_directories() -> None:
    """A new top-level module or folder joins the list above on purpose."""
    found = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"} | {
        p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert found == set(BASE) | set(ROOMS) | {"sandbox"}
