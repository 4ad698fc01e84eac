"""The configuration and command reference, generated from the code.

The documentation site's reference pages are written by this module when the site is built
(``tools/docs_hooks.py``), from the same registry and constructor signatures that ``tartan-fw
list`` and the config builder read, and from the click commands themselves: a component, a
parameter or an option cannot exist without a reference entry, and a page cannot describe one
that is gone. ``tests/test_docs.py`` checks the coverage.
"""

from __future__ import annotations

import inspect
import re
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from tartan_fw.common.constraints import Constraint
from tartan_fw.common.from_config import Lazy, _MISSING, argument_docs, constructor_parameters
from tartan_fw.common.registrable import Registrable

REFERENCE = "reference"  # the folder of the generated pages under docs/
# The one top-level key that is not an ``Experiment`` parameter (tartan_fw/pipeline.py reads it).
STAGES = ("a pipeline: stages run in order, each from the previous stage's body (tartan_fw/pipeline.py); "
          "the other keys are shared by every stage")


@dataclass(frozen=True)
class Parameter:
    """One config key: its type in the config's words, default (``None`` when required), range and doc."""

    name: str
    type: str
    default: str | None
    constraint: str
    doc: str


def type_name(annotation: Any) -> str:
    """``Lazy[Body]`` -> ``body``, ``Optional[List[str]]`` -> ``list of str or null``, ``Literal['a', 'b']`` ->
    ``'a' or 'b'``, ``Annotated[int, at_least(1)]`` -> ``int``, ``Dict[str, float]`` -> ``object of str to float``."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return type_name(args[0])
    if origin in (Union, getattr(__import__("types"), "UnionType", Union)):
        names = [type_name(arg) for arg in args if arg is not type(None)]
        return " or ".join(names + (["null"] if type(None) in args else []))
    if origin is Literal:
        return " or ".join(repr(arg) for arg in args)
    if origin is list:
        return f"list of {type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"object of {type_name(args[0])} to {type_name(args[1])}" if args else "object"
    if origin is Lazy:
        return type_name(args[0])
    if annotation is Any:
        return "any"
    if isinstance(annotation, type) and issubclass(annotation, Registrable) and Registrable in annotation.__bases__:
        return annotation.family
    return getattr(annotation, "__name__", str(annotation).replace("typing.", ""))


def constraints(annotation: Any) -> str:
    """The value ranges an ``Annotated`` annotation declares, wherever it sits (``Optional[PositiveInt]``)."""
    if get_origin(annotation) is Annotated:
        return ", ".join(a.requirement for a in get_args(annotation)[1:] if isinstance(a, Constraint))
    return ", ".join(filter(None, (constraints(arg) for arg in get_args(annotation))))


def parameters(cls: type, injected: typing.Iterable[str] = ()) -> list[Parameter]:
    """What a config block for ``cls`` may hold: the constructor's parameters less the injected ones. A
    parameter the class's docstring leaves out takes its description from the nearest base class's."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass.__dict__.get("__doc__"):
            docs.update(argument_docs(klass))
    return [
        Parameter(name, type_name(annotation), None if default is _MISSING else repr(default),
                  constraints(annotation), docs.get(name, ""))
        for name, annotation, default in constructor_parameters(cls) if name not in set(injected)
    ]


def nested_classes(annotation: Any) -> list[type]:
    """The plain (unregistered) classes a parameter's value is built as, such as the trainer's ``finetune``."""
    if get_origin(annotation) is not None:
        return [cls for arg in get_args(annotation) for cls in nested_classes(arg)]
    plain = (isinstance(annotation, type) and not issubclass(annotation, Registrable)
             and annotation.__module__.startswith("tartan_fw.") and bool(constructor_parameters(annotation)))
    return [annotation] if plain else []


def description(cls: type) -> str:
    """The class docstring without its ``Args:`` section (the parameter table shows those)."""
    doc = inspect.cleandoc(cls.__doc__) if cls.__doc__ else ""  # its own: a base class's would mislead
    return re.split(r"^Args:\s*$", doc, flags=re.MULTILINE)[0].strip()


def builtin_families() -> list[type[Registrable]]:
    """Every family and its built-in components (plugins add theirs to ``tartan-fw list``, not to the site)."""
    from tartan_fw.common.registrable import families
    from tartan_fw.plugins import load_builtins

    load_builtins()
    return families()


def cli_commands() -> dict[str, Any]:
    """Every ``tartan-fw`` command by its full name (``data fetch``), the group itself as ``""``."""
    import click

    from tartan_fw.cli.main import cli

    found: dict[str, Any] = {}

    def walk(command: click.Command, name: str) -> None:
        found[name] = command
        if isinstance(command, click.Group):
            for sub in sorted(command.commands):
                walk(command.commands[sub], f"{name} {sub}".strip())

    walk(cli, "")
    return found


# ---- Markdown ---------------------------------------------------------------------------------------

_CODE = re.compile(r"(``.+?``|`[^`]+`)")


def _inline(text: str, in_table: bool = False) -> str:
    """Docstring text as Markdown: double-backtick spans kept as code, HTML and emphasis characters
    escaped outside code, ``|`` escaped in table cells."""
    parts = []
    for i, part in enumerate(_CODE.split(text)):
        if i % 2:
            part = "`" + part.strip("`") + "`" if part.startswith("``") else part
        else:
            part = part.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("*", r"\*")
            part = re.sub(r":(?:class|meth|func|data|attr):", "", part)
        parts.append(part.replace("|", r"\|") if in_table else part)
    return "".join(parts)


def _paragraphs(text: str) -> str:
    """Docstring paragraphs as Markdown: wrapped lines joined, bullet and numbered lists kept as lists."""
    out = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = [line.strip() for line in block.splitlines()]
        items: list[str] = []
        for line in lines:
            if re.match(r"([*-]|\d+\.) ", line) or not items:
                items.append(line)
            else:
                items[-1] += " " + line
        listed = re.match(r"([*-]|\d+\.) ", items[0]) is not None
        out.append("\n".join(_inline(item) for item in items) if listed else _inline(" ".join(items)))
    return "\n\n".join(out)


def parameter_table(params: list[Parameter]) -> str:
    if not params:
        return "No parameters.\n"
    rows = ["| key | type | default | description |", "|---|---|---|---|"]
    for p in params:
        kind = _inline(f"`{p.type}`" + (f" ({p.constraint})" if p.constraint else ""), in_table=True)
        default = "required" if p.default is None else _inline(f"`{p.default}`", in_table=True)
        rows.append(f"| `{p.name}` | {kind} | {default} | {_inline(p.doc, in_table=True)} |")
    return "\n".join(rows) + "\n"


def family_page(base: type[Registrable]) -> str:
    injected = tuple(getattr(base, "injected_parameters", ()))
    lines = [f"# `{base.family}`", "",
             f"Components of the family `{base.family}` (base class `{base.__module__}.{base.__qualname__}`), "
             f"chosen in an experiment file by `type: '<name>'`."]
    if base.default_implementation:
        lines.append(f"Without a `type`, `{base.default_implementation}` is used.")
    if injected:
        lines.append(f"Set by the framework at run time, never in the config: {', '.join(f'`{n}`' for n in injected)}.")
    if hasattr(base, "reference_note"):
        lines += ["", base.reference_note()]
    lines += ["", "| name | summary |", "|---|---|"]
    for name in base.list_available():
        summary = (description(base.by_name(name)).splitlines() or [""])[0]
        lines.append(f"| [`{name}`](#{name.replace('_', '-')}) | {_inline(summary, in_table=True)} |")
    for name in base.list_available():
        cls = base.by_name(name)
        lines += ["", f"## `{name}` {{#{name.replace('_', '-')}}}", "",
                  f"`{cls.__module__}.{cls.__qualname__}`", "", _paragraphs(description(cls)), "",
                  parameter_table(parameters(cls, injected))]
        for key, annotation, _ in constructor_parameters(cls):
            for nested in [] if key in injected else nested_classes(annotation):
                lines += ["", f"### `{name}.{key}` {{#{name.replace('_', '-')}-{key.replace('_', '-')}}}", "",
                          f"An object (`{nested.__module__}.{nested.__qualname__}`).", "",
                          _paragraphs(description(nested)), "", parameter_table(parameters(nested))]
    return "\n".join(lines)


def experiment_page() -> str:
    from tartan_fw.experiment import Experiment

    return "\n".join([
        "# Experiment keys", "",
        "The top-level keys of an experiment file (`tartan_fw.experiment.Experiment`; `tartan-fw list experiment`). "
        "Each component key takes an object whose `type` names a registered component of its family "
        "(see the component pages).", "",
        parameter_table(parameters(Experiment)).rstrip("\n"),
        f"| `stages` | `list` | optional | {_inline(STAGES, in_table=True)} |", "",
    ])


def cli_page() -> str:
    import click

    lines = ["# Command line", "",
             "Every `tartan-fw` command and option, read from the click commands. `--include-package` and "
             "`--debug` go before or after the subcommand."]
    for name, command in cli_commands().items():
        title = f"tartan-fw {name}".strip()
        context = click.Context(command, info_name=title)
        lines += ["", f"## `{title}`", "", "```text", command.get_usage(context).removeprefix("Usage: "), "```", "",
                  _paragraphs(inspect.cleandoc(command.help or ""))]
        rows = []
        for param in command.params:
            if isinstance(param, click.Argument):
                rows.append((param.human_readable_name, "argument", "", ""))
                continue
            names = ", ".join(param.opts + param.secondary_opts)
            kind = "flag" if param.is_flag else (
                " or ".join(param.type.choices) if isinstance(param.type, click.Choice) else param.type.name)
            default = param.default
            unset = default in (None, False, ()) or callable(default) or type(default).__name__ == "Sentinel"
            default = "" if unset else repr(default)
            rows.append((names, kind + (", repeatable" if param.multiple else ""), default, param.help or ""))
        if isinstance(command, click.Group):
            subcommands = ", ".join(f"`{title} {sub}`" for sub in sorted(command.commands))
            lines += ["", f"Subcommands: {subcommands}."]
        if rows:
            lines += ["", "| option | value | default | description |", "|---|---|---|---|"]
            lines += [f"| `{n}` | {_inline(k, True)} | {_inline(d, True)} | {_inline(h, True)} |" for n, k, d, h in rows]
    return "\n".join(lines) + "\n"


def pages() -> dict[str, str]:
    """Every generated page by its path under ``docs/``."""
    generated = {f"{REFERENCE}/experiment.md": experiment_page(), f"{REFERENCE}/cli.md": cli_page()}
    for base in builtin_families():
        generated[f"{REFERENCE}/components/{base.family}.md"] = family_page(base)
    return generated
