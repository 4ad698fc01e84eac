"""Plugin loading: only what was asked for, by an installed entry point or by name.

Importing a plugin runs its code, so nothing is imported because it happens to lie in the working
directory: running tartan-fw inside someone else's checkout must not run their ``plugins/``. Each
module registers its components on import (a package plugin's ``__init__`` imports its components).
Two ways, in this order:

* installed distributions that declare an entry point in the ``tartan_fw.plugins`` group
  (``[project.entry-points."tartan_fw.plugins"] my_plugin = "my_package"``): installing is the consent;
* modules named by ``--include-package`` or by the experiment's ``include`` list (the project's own
  ``include: ['plugins.cifar']``), importable from the installed packages or the working directory.

There is deliberately no opt-in file read from the working directory (AllenNLP's ``.allennlp_plugins``):
a checkout could ship one, and it would bring back the import nobody asked for.
"""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Iterable

from tartan_fw.errors import TartanError

ENTRY_POINT_GROUP = "tartan_fw.plugins"
# The packages whose ``__init__`` registers the built-in components of each family.
BUILTIN_PACKAGES = ("tartan_fw.data.readers", "tartan_fw.models.bodies", "tartan_fw.models.heads", "tartan_fw.tasks",
                    "tartan_fw.weighters", "tartan_fw.training")
_LOADED: list[str] = []


def load_builtins() -> None:
    """Register every built-in component (importing the experiment does too; listing needs them all)."""
    for package in BUILTIN_PACKAGES:
        importlib.import_module(package)


def loaded_plugins() -> list[str]:
    return list(_LOADED)


def forget_plugins(keep: Iterable[str]) -> None:
    """Forget plugins loaded since ``keep`` was taken, and unload their modules (test isolation)."""
    kept = set(keep)
    for name in [n for n in _LOADED if n not in kept]:
        _LOADED.remove(name)
        for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[module]


def import_plugin(name: str, source: str = "") -> None:
    """Import one plugin module; any failure becomes a one-line error naming the plugin and the cause."""
    if name in _LOADED:
        return
    label = f"plugin '{name}'" + (f" ({source})" if source else "")
    try:
        importlib.import_module(name)
    except TartanError as err:
        raise TartanError(f"{label}: {_one_line(err)}") from err
    except Exception as err:  # noqa: BLE001 - any import failure is reported with its cause
        raise TartanError(
            f"{label} failed to import: {type(err).__name__}: {_one_line(err)}; "
            f"fix the plugin or stop loading it"
        ) from err
    _LOADED.append(name)


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


def load_plugins(include: Iterable[str] = ()) -> None:
    """Import the built-ins, the entry-point plugins, then the modules named in ``include``."""
    load_builtins()
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        import_plugin(entry_point.module, f"entry point '{entry_point.name}'")
    include = list(include)
    if include:
        # Like Python run from a shell, a module in the working directory can be named: the console
        # script's own sys.path does not hold it. Only a named module is imported from there.
        _add_to_path(Path.cwd())
    for name in include:
        import_plugin(name)


def _add_to_path(directory: Path) -> None:
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
        importlib.invalidate_caches()
