"""The package's import layering, checked on the source with ``ast`` (no module is imported).

Rules (a lower layer never imports a layer built on it):

* ``jpegnn.utils`` (helpers) imports neither ``jpegnn.tasks`` nor ``jpegnn.commands``;
* ``jpegnn.tasks`` (LightningModules) does not import ``jpegnn.commands`` (the CLI layer);
* ``jpegnn.models`` (networks only) does not import ``jpegnn.tasks``;
* ``jpegnn.utils`` and ``jpegnn.models`` do not import the model zoo ``jpegnn.zoo`` (a top-level
  module above the tasks), which does not import ``jpegnn.commands``.

Every import counts, also one inside a function (a lazy import is still a dependency) or under
``TYPE_CHECKING``; ``from jpegnn import tasks``, relative imports and
``importlib.import_module("jpegnn.tasks...")`` with a literal name are resolved too.

Module-level rules (:data:`FORBIDDEN_AT_IMPORT`) allow an import inside a function only, as the
commands do: ``jpegnn.zoo`` imports ``jpegnn.tasks`` in ``load_module``/``release`` only, and
``jpegnn.coding``/``jpegnn.tasks`` import ``jpegnn.zoo`` where they resolve a short name only, so
importing any of them never imports the other at start-up.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import jpegnn

PACKAGE_ROOT = Path(jpegnn.__file__).resolve().parent

#: (importing package, forbidden package)
FORBIDDEN: tuple[tuple[str, str], ...] = (
    ("jpegnn.utils", "jpegnn.tasks"),
    ("jpegnn.utils", "jpegnn.commands"),
    ("jpegnn.tasks", "jpegnn.commands"),
    ("jpegnn.models", "jpegnn.tasks"),
    ("jpegnn.utils", "jpegnn.zoo"),
    ("jpegnn.models", "jpegnn.zoo"),
    ("jpegnn.zoo", "jpegnn.commands"),
)

#: (importing package, package it may import inside functions only)
FORBIDDEN_AT_IMPORT: tuple[tuple[str, str], ...] = (
    ("jpegnn.zoo", "jpegnn.tasks"),
    ("jpegnn.coding", "jpegnn.zoo"),
    ("jpegnn.tasks", "jpegnn.zoo"),
)


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of ``from <level dots><target> import ...`` written in ``module``."""
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _nodes(tree: ast.AST, module_level_only: bool):
    """Every node of ``tree`` (``ast.walk``), or only those outside function bodies."""
    if not module_level_only:
        yield from ast.walk(tree)
        return
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        todo += [c for c in ast.iter_child_nodes(node) if not isinstance(c, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))]


def imported_modules(
    source: str, module: str, is_package: bool = False, module_level_only: bool = False
) -> list[tuple[int, str]]:
    """``(line, absolute module name)`` of every import in ``source`` (the code of ``module``);
    with ``module_level_only``, of those that run when the module is imported (not in functions).

    ``from A import b`` yields both ``A`` and ``A.b`` (``b`` may be a submodule), so
    ``from jpegnn import tasks`` is seen as an import of ``jpegnn.tasks``.
    """
    found: list[tuple[int, str]] = []
    for node in _nodes(ast.parse(source), module_level_only):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_relative(module, is_package, node.level, node.module) if node.level else node.module or ""
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names if alias.name != "*"]
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (isinstance(node.func, ast.Name) and node.func.id in ("import_module", "__import__"))
            )
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def layering_violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """Messages for the imports of ``module`` (its code in ``source``) that break :data:`FORBIDDEN`
    or :data:`FORBIDDEN_AT_IMPORT`."""
    first: dict[tuple[int, str, str, str], str] = {}  # one message per line and rule: the shortest name
    for rules, module_level_only, how in ((FORBIDDEN, False, "{lower} must not import {upper}"),
                                          (FORBIDDEN_AT_IMPORT, True, "{lower} must import {upper} inside functions only")):
        for line, name in imported_modules(source, module, is_package, module_level_only):
            for lower, upper in rules:
                if _within(module, lower) and _within(name, upper):
                    key = (line, lower, how, upper)
                    if key not in first or len(name) < len(first[key]):
                        first[key] = name
    return [
        f"{module}:{line} imports {name} ({how.format(lower=lower, upper=upper)})"
        for (line, lower, how, upper), name in sorted(first.items())
    ]


def package_modules(root: Path = PACKAGE_ROOT) -> list[tuple[str, Path, bool]]:
    """``(module name, file, is_package)`` for every ``.py`` file of the package."""
    out = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("")
        parts = list(rel.parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        out.append((".".join(parts), path, is_package))
    return out


def test_the_package_respects_the_layering():
    modules = package_modules()
    names = {m for m, _, _ in modules}
    assert {"jpegnn.utils.checkpoints", "jpegnn.tasks.qtable_codec", "jpegnn.models.lic.zoo", "jpegnn.zoo"} <= names
    violations = [v for m, path, pkg in modules for v in layering_violations(path.read_text(encoding="utf-8"), m, pkg)]
    assert violations == []


@pytest.mark.parametrize(
    "module, source",
    [
        ("jpegnn.utils.checkpoints", "def f():\n    from jpegnn.tasks.distillation import DistillationModule\n"),
        ("jpegnn.utils.checkpoints", "import jpegnn.tasks.lic\n"),
        ("jpegnn.utils.checkpoints", "from jpegnn import tasks\n"),
        ("jpegnn.utils.checkpoints", "from ..tasks import LICModule\n"),
        ("jpegnn.utils", "from ..commands import export_qtables\n"),  # an __init__.py (is_package below)
        ("jpegnn.utils.atomic", "import importlib\nimportlib.import_module('jpegnn.commands.bench')\n"),
        ("jpegnn.utils.atomic", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from jpegnn.tasks import LICModule\n"),
        ("jpegnn.tasks.qtable_codec", "def cjpeg_text():\n    from jpegnn.commands.export_qtables import cjpeg_text\n"),
        ("jpegnn.tasks.qtable_codec", "from ..commands.export_qtables import main\n"),
        ("jpegnn.models.lic.zoo", "from jpegnn.tasks.lic import LICModule\n"),
        ("jpegnn.models.lic.zoo", "from ...tasks import lic\n"),
        ("jpegnn.models.lic.export", "def f():\n    from jpegnn.zoo import load\n"),
        ("jpegnn.utils.checkpoints", "import jpegnn.zoo\n"),
        ("jpegnn.zoo", "def f():\n    from jpegnn.commands.zoo import main\n"),
        ("jpegnn.zoo", "from jpegnn.tasks.lic import LICModule\n"),
        ("jpegnn.zoo", "try:\n    from jpegnn.tasks import loading\nexcept ImportError:\n    pass\n"),
        ("jpegnn.coding.codec", "from jpegnn.zoo import checkpoint_source\n"),
        ("jpegnn.tasks.loading", "from jpegnn import zoo\n"),
    ],
)
def test_the_checker_catches_a_violation(module, source):
    is_package = module == "jpegnn.utils"
    assert len(layering_violations(source, module, is_package)) >= 1


@pytest.mark.parametrize(
    "module, source",
    [
        ("jpegnn.utils.checkpoints", "import torch\nfrom jpegnn.errors import CheckpointError\n"),
        ("jpegnn.utils.checkpoints", "from .atomic import write_bytes_atomic\n"),
        ("jpegnn.utils.checkpoints", "import jpegnn.tasksmith\n"),  # a name that only starts alike
        ("jpegnn.tasks.loading", "from jpegnn.tasks.distillation import STUDENT_KEY\nfrom jpegnn.utils.checkpoints import read_torch_file\n"),
        ("jpegnn.tasks.qtable_codec", "from jpegnn.jpeg.qtable_formats import cjpeg_text\n"),
        ("jpegnn.commands.export_qtables", "from jpegnn.tasks import QTableClassifier\nfrom jpegnn.jpeg import qtable_formats\n"),
        ("jpegnn.coding.codec", "from jpegnn.tasks.loading import load_module\n"),
        ("jpegnn.models.lic.zoo", "from jpegnn.utils.checkpoints import read_torch_file\n"),
        ("jpegnn.zoo", "def load_module():\n    from jpegnn.tasks.lic import LICModule\n"),
        ("jpegnn.zoo", "from jpegnn.models.lic.export import hashed_name\n"),
        ("jpegnn.tasks.loading", "def load_module():\n    from jpegnn.zoo import checkpoint_source\n"),
        ("jpegnn.coding.model_index", "class A:\n    def f(self):\n        import jpegnn.zoo\n"),
        ("jpegnn.commands.bench", "from jpegnn.zoo import checkpoint_source\n"),
    ],
)
def test_the_checker_accepts_allowed_imports(module, source):
    assert layering_violations(source, module) == []


def test_the_checker_reports_module_line_and_rule():
    [msg] = layering_violations("import os\n\n\ndef f():\n    import jpegnn.commands.bench\n", "jpegnn.tasks.lic")
    assert msg == "jpegnn.tasks.lic:5 imports jpegnn.commands.bench (jpegnn.tasks must not import jpegnn.commands)"


def test_the_checker_reports_import_time_rules():
    [msg] = layering_violations("import os\nfrom jpegnn.tasks.lic import LICModule\n", "jpegnn.zoo")
    assert msg == "jpegnn.zoo:2 imports jpegnn.tasks.lic (jpegnn.zoo must import jpegnn.tasks inside functions only)"
