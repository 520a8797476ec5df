"""Where the add-on's ``core`` subpackage comes from.

The built add-on carries a copy of ``core`` in its own ``core/`` folder
(``scripts/build_addon.py`` copies it in). The repository keeps one ``core/``, beside this
folder, and no copy or link in here (a link in git becomes a text file on a Windows checkout).
Importing this module (the add-on's ``__init__`` does, first) then loads that folder as this
package's ``core`` subpackage, so the add-on's modules and the tests import
``<add-on>.core.*`` in both layouts alike.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ADDON_DIR = Path(__file__).resolve().parent
#: The repository's engine package, used when the add-on has no ``core`` of its own.
REPOSITORY_CORE = ADDON_DIR.parent / "core"


def load_repository_core(package: str) -> None:
    """Make ``<package>.core`` the repository's ``core/`` when the add-on has no copy.

    Does nothing in a built add-on (which has ``core/``) or when ``<package>.core`` is loaded.
    """
    name = f"{package}.core"
    if name in sys.modules or (ADDON_DIR / "core" / "__init__.py").is_file():
        return
    init = REPOSITORY_CORE / "__init__.py"
    if not init.is_file():
        return  # neither layout: the add-on's own `from .core import ...` names what is missing
    spec = importlib.util.spec_from_file_location(
        name, init, submodule_search_locations=[str(REPOSITORY_CORE)]
    )
    assert spec is not None and spec.loader is not None  # a file location always has both
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    sys.modules[package].core = module  # type: ignore[attr-defined]


# On import, as the add-on's ``__init__`` does before any module that imports ``.core``.
load_repository_core(__name__.rpartition(".")[0])
