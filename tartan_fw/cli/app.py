"""What every ``tartan-fw`` command shares: the click group, clean failures, config and thread options.

Command modules import this one and register on :data:`cli`; ``cli/main.py`` imports them all.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Any, Callable

import click

from tartan_fw.errors import TartanError, TrainingInterrupted


def fail_cleanly(command: Callable) -> Callable:
    """Project errors become one line on stderr and exit code 2 (a traceback only with --debug).

    An interrupted run is no error: its message says how to resume, and the exit code is the
    shell's for the signal (130 for SIGINT, 143 for SIGTERM), so schedulers see a preemption.
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except TrainingInterrupted as stop:
            if os.environ.get("RANK", "0") == "0":  # under torchrun every process stops alike
                click.echo(str(stop), err=True)
            sys.exit(stop.exit_code)
        except TartanError as err:
            if click.get_current_context().find_root().params.get("debug"):
                raise
            click.echo(f"error: {err}", err=True)
            sys.exit(2)

    return wrapper


@click.group()
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.option("--include-package", "include", multiple=True, help="Import a plugin module first (repeatable).")
@click.pass_context
def cli(context: click.Context, debug: bool, include: tuple[str, ...]) -> None:
    """tartan-fw: end-task aware training (MT-TARTAN, META-TARTAN) from Jsonnet experiments."""
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("tartan_fw").setLevel(logging.INFO)
    context.obj = {"include": list(include)}


def config_from_cli(config_file: str, ext_var: tuple[str, ...], override: tuple[str, ...],
                     overrides: str | None, include: list[str]) -> tuple[dict, dict]:
    from tartan_fw.common.config import load_config, parse_assignment
    from tartan_fw.plugins import load_plugins

    ext_vars = dict(parse_assignment(item, "--ext-var") for item in ext_var)
    dotted = [parse_assignment(item, "-o") for item in override]
    config = load_config(Path(config_file), ext_vars, overrides, dotted)
    load_plugins([*include, *config.get("include", [])])
    return config, ext_vars


_config_options = [
    click.argument("config_file", type=click.Path(dir_okay=False)),
    click.option("--ext-var", multiple=True, metavar="KEY=VALUE", help="A Jsonnet external variable (repeatable)."),
    click.option("-o", "--override", multiple=True, metavar="DOTTED.KEY=VALUE", help="Set one config value (repeatable)."),
    click.option("--overrides", metavar="JSON", help="A JSON object deep-merged into the config."),
]


def config_options(command: Callable) -> Callable:
    for option in reversed(_config_options):
        command = option(command)
    return command


threads_option = click.option(
    "--threads", type=click.IntRange(min=1),
    help="CPU threads for torch (default: one per core). Give each of several runs sharing a machine its share: "
         "oversubscribed threads slow every run many times over.",
)


def use_threads(threads: int | None) -> None:
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
