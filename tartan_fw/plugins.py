"""Plugin discovery: entry points, the project's ``plugins/`` folder, and named modules.

Plugins are imported explicitly (never a silent glob-import of arbitrary code): each module
registers its components on import, so a package plugin's ``__init__`` imports its components.
Three ways, in this order:

* installed distributions that declare an entry point in the ``tartan_fw.plugins`` group
  (``[project.entry-points."tartan_fw.plugins"] my_plugin = "my_package"``);
* the modules and packages directly under ``plugins/`` in the working directory (the project's
  own plugins), imported as ``plugins.<name>``;
* modules named by ``--include-package`` or by the experiment's ``include`` list, importable from
  the installed packages or the working directory.
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


def discover_folder(folder: Path) -> list[str]:
    """Modules and packages directly under ``folder`` (a project's ``plugins/``)."""
    if not folder.is_dir():
        return []
    names = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(("_", ".")):
            continue
        if entry.suffix == ".py" or (entry.is_dir() and (entry / "__init__.py").exists()):
            names.append(entry.stem)
    return names


def load_plugins(include: Iterable[str] = (), plugin_folder: Path | None = None) -> None:
    """Import the built-ins, entry-point plugins, the modules of ``plugin_folder`` (default ``./plugins``), then
    ``include``."""
    load_builtins()
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        import_plugin(entry_point.module, f"entry point '{entry_point.name}'")
    folder = (plugin_folder if plugin_folder is not None else Path("plugins")).resolve()
    modules = discover_folder(folder)
    if modules:
        _add_to_path(folder.parent)
    for module in modules:
        import_plugin(f"{folder.name}.{module}", f"from {folder}")
    # Like Python run from a shell, a module in the working directory can be named: the console
    # script's own sys.path does not hold it.
    _add_to_path(Path.cwd())
    for name in include:
        import_plugin(name)


def _add_to_path(directory: Path) -> None:
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
        importlib.invalidate_caches()
