"""Plugin discovery: the project's ``plugins/`` folder, ``--include-package``, and entry points.

Plugins are imported explicitly (never a silent glob-import of arbitrary code): each module
registers its components on import.
"""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import entry_points
from pathlib import Path

from tartan_fw.errors import TartanError

ENTRY_POINT_GROUP = "tartan_fw.plugins"
_LOADED: list[str] = []


def loaded_plugins() -> list[str]:
    return list(_LOADED)


def import_plugin(name: str) -> None:
    """Import one plugin module (and its submodules' registrations happen on import)."""
    if name in _LOADED:
        return
    try:
        importlib.import_module(name)
    except TartanError as err:
        raise TartanError(f"plugin '{name}': {err}") from err
    except Exception as err:  # noqa: BLE001 - any import failure is reported with its cause
        raise TartanError(f"plugin '{name}' failed to import: {type(err).__name__}: {err}") from err
    _LOADED.append(name)


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


def load_plugins(include: list[str] = (), plugin_folder: Path | None = None) -> None:
    """Import entry-point plugins, the modules of ``plugin_folder``, then ``include``."""
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        import_plugin(entry_point.value)
    folder = plugin_folder if plugin_folder is not None else Path.cwd() / "plugins"
    modules = discover_folder(folder)
    if modules:
        if str(folder.parent) not in sys.path:
            sys.path.insert(0, str(folder.parent))
        for module in modules:
            import_plugin(f"{folder.name}.{module}")
    for name in include:
        import_plugin(name)
