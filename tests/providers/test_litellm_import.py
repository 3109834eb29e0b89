"""litellm is imported in one place, after it is told to use its bundled cost map.

Imported any other way first, litellm fetches its cost map from GitHub: a delay and a warning
on a machine without a network (and a run-time download, which tutelage never makes)."""

from __future__ import annotations

import ast
from pathlib import Path

import tutelage

PACKAGE = Path(tutelage.__file__).parent
ONLY = PACKAGE / "providers" / "_litellm.py"


def _module_level_litellm_imports(path: Path) -> list[int]:
    """Lines where the module imports litellm outside any function (at import time)."""
    tree = ast.parse(path.read_text())
    lines = []
    for node in tree.body:
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        if any(n == "litellm" or n.startswith("litellm.") for n in names):
            lines.append(node.lineno)
    return lines


def test_only_the_litellm_module_imports_litellm_at_import_time() -> None:
    offenders = {str(p.relative_to(PACKAGE)): lines for p in sorted(PACKAGE.rglob("*.py"))
                 if p != ONLY and (lines := _module_level_litellm_imports(p))}  # fmt: skip
    assert offenders == {}
    assert _module_level_litellm_imports(ONLY), "the one place must import it"
