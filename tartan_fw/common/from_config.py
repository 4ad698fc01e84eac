"""Build components from config dicts by reading their constructors' signatures.

Only a small subset of annotations is understood (primitives, registrable and plain classes,
``list``/``dict``/``Optional``/``Union``/``Literal`` of those, :class:`Lazy`, and ``Annotated``
with a :class:`~tartan_fw.common.constraints.Constraint`), which keeps the rules predictable. Every problem in the whole tree is collected before anything fails.

Value ranges are declared in the annotations and relations between parameters in the class's
``argument_problems``, so ``validate`` finds both without building anything; a constructor raises
only for what needs the built objects. A constructor's ``**kwargs`` stands for its base class's
parameters (as in AllenNLP's ``from_params``), less those it passes itself (``fixed_parameters``).
"""

from __future__ import annotations

import difflib
import inspect
import re
import types
import typing
from typing import Annotated, Any, Generic, Literal, TypeVar, Union, get_args, get_origin

from tartan_fw.common.constraints import Constraint
from tartan_fw.common.registrable import Registrable
from tartan_fw.errors import ConfigurationError

T = TypeVar("T")
_MISSING = object()


class Problems(list):
    """Config problems (strings), and the exceptions behind those a constructor raised: the error that
    reports them is chained to the first, so ``--debug`` shows where it came from."""

    def __init__(self) -> None:
        super().__init__()
        self.causes: list[BaseException] = []

    def adopt(self, other: "Problems") -> None:
        self.extend(other)
        self.causes.extend(other.causes)

    def fail(self) -> None:
        if self:
            raise ConfigurationError(list(self)) from (self.causes[0] if self.causes else None)


class Injected:
    """Placeholder for a runtime dependency while a config is only being validated."""


class Lazy(Generic[T]):
    """A component validated now and built later, once its runtime dependencies exist.

    The family declares those dependencies in ``injected_parameters`` (a head needs the body,
    for instance); ``construct`` passes the ones the chosen class accepts.
    """

    def __init__(self, cls: type, config: dict[str, Any], path: str) -> None:
        self.cls = cls
        self.config = config
        self.path = path

    def construct(self, **injected: Any) -> T:
        errors = Problems()
        built = _construct_class(self.cls, self.config, self.path, errors, injected, build=True)
        errors.fail()
        return built

    def arguments(self) -> dict[str, Any]:
        """What ``construct`` will pass besides the injected dependencies, every default filled in.

        Nested components are built (their constructors take config values only), nested lazy ones
        stay lazy. For owners that need a setting before the dependencies exist: a task's name, or
        the files ``validate`` checks.
        """
        errors = Problems()
        injected = {name: Injected() for name in getattr(self.cls, "injected_parameters", ())}
        kwargs = _arguments(self.cls, self.config, self.path, errors, injected, build=True)
        errors.fail()
        return {name: value for name, value in _with_defaults(self.cls, kwargs).items() if name not in injected}

    def __repr__(self) -> str:
        return f"Lazy({self.cls.__name__}, {self.config!r})"


def build(cls: type[T], config: dict[str, Any], path: str = "") -> T:
    """Construct ``cls`` from ``config``; raise one ConfigurationError listing every problem."""
    errors = Problems()
    built = _resolve(cls, config, path, errors, build=True)
    errors.fail()
    return built


def validate(cls: type, config: dict[str, Any], path: str = "") -> list[str]:
    """Every problem ``build`` would report, found without constructing anything."""
    errors = Problems()
    _resolve(cls, config, path, errors, build=False)
    return list(errors)


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _where(path: str) -> str:
    return path or "<top level>"


def _type_name(annotation: Any) -> str:
    if get_origin(annotation) is Annotated:
        return _type_name(get_args(annotation)[0])
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _resolve(annotation: Any, value: Any, path: str, errors: Problems, build: bool) -> Any:
    origin = get_origin(annotation)
    args = get_args(annotation)
    if annotation is Any or annotation is inspect.Parameter.empty:
        return value
    if origin is Annotated:
        return _resolve_constrained(args, value, path, errors, build)
    if origin in (Union, types.UnionType):
        return _resolve_union(args, value, path, errors, build)
    if origin is Literal:
        if value not in args:
            errors.append(f"{_where(path)}: {value!r} is not one of {', '.join(map(repr, args))}")
        return value
    if origin in (list, tuple, typing.Sequence) or annotation in (list, tuple):
        if not isinstance(value, list):
            errors.append(f"{_where(path)}: expected a list, got {type(value).__name__} {value!r}")
            return value
        item_type = args[0] if args else Any
        return [_resolve(item_type, item, _join(path, i), errors, build) for i, item in enumerate(value)]
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            errors.append(f"{_where(path)}: expected an object, got {type(value).__name__} {value!r}")
            return value
        value_type = args[1] if args else Any
        return {k: _resolve(value_type, v, _join(path, k), errors, build) for k, v in value.items()}
    if origin is Lazy:
        return _resolve_component(args[0], value, path, errors, build=False, lazy=True)
    if annotation in (int, float, str, bool):
        return _check_primitive(annotation, value, path, errors)
    if annotation is type(None):
        if value is not None:
            errors.append(f"{_where(path)}: expected null, got {value!r}")
        return None
    if isinstance(annotation, type):
        return _resolve_component(annotation, value, path, errors, build, lazy=False)
    raise TypeError(f"{_where(path)}: unsupported annotation {annotation!r}")


def _check_primitive(kind: type, value: Any, path: str, errors: Problems) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    errors.append(f"{_where(path)}: expected {kind.__name__}, got {type(value).__name__} {value!r}")
    return value


def _resolve_constrained(args: tuple, value: Any, path: str, errors: Problems, build: bool) -> Any:
    """The inner type first; the constraints only on a value of that type."""
    before = len(errors)
    resolved = _resolve(args[0], value, path, errors, build)
    if len(errors) == before:
        for constraint in (a for a in args[1:] if isinstance(a, Constraint)):
            problem = constraint.problem(resolved)
            if problem:
                errors.append(f"{_where(path)}: {problem}")
                break
    return resolved


def _resolve_union(args: tuple, value: Any, path: str, errors: Problems, build: bool) -> Any:
    if value is None:
        if type(None) in args:
            return None
        errors.append(f"{_where(path)}: null is not allowed here")
        return None
    candidates = [a for a in args if a is not type(None)]
    attempts: list[Problems] = []
    for candidate in candidates:
        trial = Problems()
        resolved = _resolve(candidate, value, path, trial, build)
        if not trial:
            return resolved
        attempts.append(trial)
    if len(candidates) == 1:
        errors.adopt(attempts[0])
    else:
        names = " or ".join(_type_name(c) for c in candidates)
        errors.append(f"{_where(path)}: expected {names}, got {type(value).__name__} {value!r}")
    return value


def _resolve_component(
    base: type, value: Any, path: str, errors: Problems, build: bool, lazy: bool
) -> Any:
    if not isinstance(value, dict):
        errors.append(f"{_where(path)}: expected an object with the parameters of {base.__name__}, got {value!r}")
        return value
    cls = base
    if issubclass(base, Registrable) and Registrable in base.__bases__:
        type_name = value.get("type", base.default_implementation)
        if type_name is None:
            errors.append(
                f"{_join(path, 'type')}: missing; choose a {base.family} "
                f"(registered: {', '.join(base.list_available())})"
            )
            return value
        if not isinstance(type_name, str):
            errors.append(
                f"{_join(path, 'type')}: must be a string naming a registered {base.family}, got {type_name!r} "
                f"(registered: {', '.join(base.list_available())})"
            )
            return value
        try:
            cls = base.by_name(type_name)
        except KeyError as err:
            errors.append(f"{_join(path, 'type')}: {err.args[0]}")
            return value
    injected = {name: Injected() for name in getattr(base, "injected_parameters", ())}
    before = len(errors)
    built = _construct_class(cls, value, path, errors, injected, build=build and not lazy)
    if lazy and len(errors) == before:
        return Lazy(cls, value, path)
    return built


def constructor_parameters(cls: type) -> list[tuple[str, Any, Any]]:
    """(name, annotation, default) for each constructor parameter; the config reference.

    A constructor's ``**kwargs`` stands for the next base class's parameters (the constructor hands
    them on with ``super().__init__(**kwargs)``), less the ones it fills itself, which it names in
    ``fixed_parameters``. A class's own parameters come first, then its base's (as in AllenNLP).
    """
    params: dict[str, tuple[str, Any, Any]] = {}
    excluded: set[str] = set(getattr(cls, "fixed_parameters", ()))
    inherits = False
    for klass in (k for k in cls.__mro__ if "__init__" in k.__dict__):
        if klass is object:
            if inherits:
                raise TypeError(f"{cls.__qualname__}: **kwargs, yet no base class declares the parameters it stands for")
            break
        init = klass.__dict__["__init__"]
        hints = typing.get_type_hints(init, include_extras=True)
        inherits = False
        for name, param in list(inspect.signature(init).parameters.items())[1:]:
            if param.kind is param.VAR_POSITIONAL:
                raise TypeError(f"{cls.__qualname__}: components may not take *args")
            if param.kind is param.VAR_KEYWORD:
                inherits = True
            elif name not in params and name not in excluded:
                default = _MISSING if param.default is inspect.Parameter.empty else param.default
                params[name] = (name, hints.get(name, Any), default)
        if not inherits:
            break
    return list(params.values())


def _with_defaults(cls: type, kwargs: dict[str, Any]) -> dict[str, Any]:
    defaults = {name: default for name, _, default in constructor_parameters(cls) if default is not _MISSING}
    return {**defaults, **kwargs}


def _construct_class(
    cls: type, config: dict[str, Any], path: str, errors: Problems, injected: dict[str, Any], build: bool
) -> Any:
    before = len(errors)
    kwargs = _arguments(cls, config, path, errors, injected, build)
    if len(errors) == before:
        relations = getattr(cls, "argument_problems", None)
        for name, problem in (relations(_with_defaults(cls, kwargs)) if relations else {}).items():
            errors.append(f"{_join(path, name)}: {problem}")
    if not build or len(errors) > before:
        return None
    try:
        return cls(**kwargs)
    except ConfigurationError as err:  # its problems already name their config paths
        errors.extend(err.problems)
        errors.causes.append(err)
        return None
    except ValueError as err:  # a check that needed the built objects, or a library refusing a value
        errors.append(f"{_where(path)}: {err}" if _raised_by_constructor(cls, err) else
                      f"{_where(path)}: building {_display_name(cls)} failed: {type(err).__name__}: {err} "
                      f"(--debug shows where)")
        errors.causes.append(err)
        return None


def _raised_by_constructor(cls: type, err: BaseException) -> bool:
    """Whether ``err`` was raised by the constructor of ``cls`` or of a base class itself: its own check,
    whose message is written for the config's author, rather than one from deeper down (a builtin the
    constructor calls directly counts as its own: it leaves no frame)."""
    traceback = err.__traceback__
    while traceback and traceback.tb_next:
        traceback = traceback.tb_next
    constructors = {klass.__dict__["__init__"].__code__ for klass in cls.__mro__
                    if "__init__" in klass.__dict__ and hasattr(klass.__dict__["__init__"], "__code__")}
    return traceback is not None and traceback.tb_frame.f_code in constructors


def _arguments(
    cls: type, config: dict[str, Any], path: str, errors: Problems, injected: dict[str, Any], build: bool
) -> dict[str, Any]:
    """The keyword arguments ``config`` gives ``cls``'s constructor, the injected ones included and the
    defaulted ones left out; every problem goes into ``errors``."""
    params = constructor_parameters(cls)
    accepted = {name for name, _, _ in params}
    for key in config:
        if key in injected:
            errors.append(f"{_join(path, key)}: set by the framework at run time; remove it from the config")
            continue
        if key == "type" or key in accepted:
            continue
        close = difflib.get_close_matches(key, sorted(accepted), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        errors.append(
            f"{_join(path, key)}: unknown parameter for {_display_name(cls)} "
            f"({hint}accepted: {', '.join(sorted(accepted - set(injected))) or 'none'})"
        )
    kwargs: dict[str, Any] = {}
    for name, annotation, default in params:
        if name in injected:
            kwargs[name] = injected[name]
        elif name in config:
            kwargs[name] = _resolve(annotation, config[name], _join(path, name), errors, build)
        elif default is _MISSING:
            errors.append(f"{_join(path, name)}: missing required parameter of {_display_name(cls)} ({_type_name(annotation)})")
    return kwargs


def _display_name(cls: type) -> str:
    for base in cls.__mro__[1:]:
        if isinstance(base, type) and issubclass(base, Registrable) and Registrable in base.__bases__:
            name = base.registered_name(cls)
            if name:
                return f"{base.family} '{name}'"
    return cls.__name__


def argument_docs(cls: type) -> dict[str, str]:
    """Each parameter's description from the class docstring's ``Args:`` section (``a, b: text``
    lines, continued by more deeply indented ones)."""
    docs: dict[str, str] = {}
    names: list[str] = []
    lines = inspect.getdoc(cls).splitlines() if cls.__doc__ else []
    start = next((i + 1 for i, line in enumerate(lines) if line.strip() == "Args:"), len(lines))
    for line in lines[start:]:
        if not line.strip():
            break
        match = re.match(r"    ([\w, ]+): (.*)", line)
        if match and not line.startswith("     "):
            names = [name.strip() for name in match.group(1).split(",")]
            for name in names:
                docs[name] = match.group(2)
        else:
            for name in names:
                docs[name] += " " + line.strip()
    return docs

