"""AllenNLP-style registries: one per component family, filled by ``@Family.register(name)``."""

from __future__ import annotations

import difflib
from collections import defaultdict
from typing import Any, Callable, ClassVar, Mapping, TypeVar

from tartan_fw.errors import TartanError

T = TypeVar("T", bound=type)

_REGISTRY: dict[type, dict[str, type]] = defaultdict(dict)
_ORIGINS: dict[tuple[type, str], str] = {}


class Registrable:
    """Base of a component family.

    A direct subclass declares a family (``family = "weighter"``); its subclasses register under a
    name that experiment files give as ``"type"``.
    """

    family: ClassVar[str] = "component"
    default_implementation: ClassVar[str | None] = None

    @classmethod
    def register(cls, name: str, exist_ok: bool = False) -> Callable[[T], T]:
        registry = _REGISTRY[cls]

        def add(subclass: T) -> T:
            origin = f"{subclass.__module__}.{subclass.__qualname__}"
            if name in registry and registry[name] is not subclass and not exist_ok:
                raise TartanError(
                    f"cannot register {origin} as {cls.family} '{name}': "
                    f"the name is taken by {_ORIGINS[(cls, name)]}; choose another name"
                )
            registry[name] = subclass
            _ORIGINS[(cls, name)] = origin
            return subclass

        return add

    @classmethod
    def argument_problems(cls, arguments: Mapping[str, Any]) -> dict[str, str]:
        """What breaks a relation between config values (``hidden_size`` not divisible by ``num_heads``),
        by parameter name; a single value's range is an annotation instead. The builder asks, every default
        filled in, before it builds and in ``validate``, so a constructor need not check it."""
        return {}

    @classmethod
    def by_name(cls, name: str) -> type:
        registry = _REGISTRY[cls]
        if name not in registry:
            raise KeyError(unknown_name_message(cls, name))
        return registry[name]

    @classmethod
    def list_available(cls) -> list[str]:
        return sorted(_REGISTRY[cls])

    @classmethod
    def registered_name(cls, subclass: type) -> str | None:
        for name, candidate in _REGISTRY[cls].items():
            if candidate is subclass:
                return name
        return None


def unknown_name_message(base: type[Registrable], name: str) -> str:
    from tartan_fw.plugins import loaded_plugins

    available = base.list_available()
    close = difflib.get_close_matches(name, available, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    plugins = ", ".join(loaded_plugins()) or "none"
    return (
        f"unknown {base.family} '{name}' ({hint}registered: {', '.join(available) or 'none'}; "
        f"plugins loaded: {plugins}; a plugin is loaded only when named in the experiment's include or by "
        f"--include-package)"
    )


def families() -> list[type[Registrable]]:
    """Every family with at least one registered component."""
    return sorted((base for base, names in _REGISTRY.items() if names), key=lambda b: b.family)


def snapshot() -> dict[type, dict[str, type]]:
    """A copy of all registries (tests restore it to keep registrations from leaking)."""
    return {base: dict(names) for base, names in _REGISTRY.items()}


def restore(saved: dict[type, dict[str, type]]) -> None:
    _REGISTRY.clear()
    for base, names in saved.items():
        _REGISTRY[base].update(names)
