"""What every ``tartan-fw`` command shares: the click group, clean failures, config and thread options.

Command modules import this one and register on :data:`cli`; ``cli/main.py`` imports them all.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

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
            _one_line(err)
        except OSError as err:
            if err.errno not in _STORAGE_ERRNOS:
                raise
            _one_line(err, f"{err.filename or 'a file'}: cannot write ({err.strerror}); free space on that disk or "
                           f"use a writable folder (TARTAN_CACHE, -s, --to), then try again")

    return wrapper


# A full or read-only disk, wherever the write happens (caches included): the user's to fix, not a bug.
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EACCES}


def _one_line(err: Exception, message: str | None = None) -> None:
    if click.get_current_context().find_root().params.get("debug"):
        raise err
    click.echo(f"error: {message or err}", err=True)
    sys.exit(2)


class UsageLine(click.UsageError):
    """A usage error (unknown option, missing argument, bad value) as the project's one line: what is
    wrong and where the help is, exit code 2 (click's own takes four lines: usage, hint, blank, error)."""

    def show(self, file: Any = None) -> None:
        message = " ".join(self.format_message().split()).rstrip(".")
        if self.ctx is None:
            click.echo(f"error: {message}", err=True)
            return
        help_option = max(self.ctx.help_option_names, key=len, default="--help")
        click.echo(f"error: {self.ctx.command_path}: {message} (see '{self.ctx.command_path} {help_option}')", err=True)


@contextlib.contextmanager
def _usage_in_one_line() -> Iterator[None]:
    try:
        yield
    except click.exceptions.NoArgsIsHelpError:  # a bare group prints its help, as asked
        raise
    except click.UsageError as err:
        if isinstance(err, UsageLine):
            raise
        raise UsageLine(err.format_message(), err.ctx) from err


class _Commands(click.Group):
    """Takes the group's ``--include-package`` (and ``--debug``) after the subcommand too, as AllenNLP
    users type them (``tartan-fw run config.jsonnet --include-package my_plugin``), and prints usage
    errors of every command in one line (:class:`UsageLine`)."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        with _usage_in_one_line():  # the group's own options
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        with _usage_in_one_line():  # the subcommand's, parsed here
            return super().invoke(ctx)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        front, rest, index = [], [], 0
        while index < len(args):
            arg = args[index]
            if arg == "--":
                rest += args[index:]
                break
            if arg == "--include-package" and index + 1 < len(args):
                front += args[index:index + 2]
                index += 2
                continue
            (front if arg.startswith("--include-package=") or arg == "--debug" else rest).append(arg)
            index += 1
        return super().parse_args(ctx, front + rest)


@click.group(cls=_Commands)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.option("--include-package", "include", multiple=True,
              help="Import a plugin module first (repeatable; before or after the subcommand).")
@click.pass_context
def cli(context: click.Context, debug: bool, include: tuple[str, ...]) -> None:
    """tartan-fw: end-task aware training (MT-TARTAN, META-TARTAN) from Jsonnet experiments."""
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("tartan_fw").setLevel(logging.INFO)
    context.obj = {"include": list(include)}
    _stop_on_signals(context)


def _stop_on_signals(context: click.Context) -> None:
    """SIGINT, SIGTERM, SIGUSR1 and SIGUSR2 (Slurm's warnings) outside training (imports, reading data, the final test) end the command at
    once with one line and the signal's exit code; training installs its own handler, which checkpoints.

    Exiting in the handler rather than raising: an exception raised inside an import (torch and
    scikit-learn take seconds) leaves half-imported modules and a traceback. Every file is written
    atomically, so nothing is left half-written; the kernel releases the run directory's lock.
    """
    import signal

    def stop(number: int, frame: Any) -> None:
        if os.environ.get("RANK", "0") == "0":
            os.write(2, f"{signal.Signals(number).name} received outside training: stopped without a new checkpoint; "
                        f"run the command again (tartan-fw resume RUN_DIR continues a started run)\n".encode())
        os._exit(128 + number)

    if threading.current_thread() is threading.main_thread():
        previous = {number: signal.signal(number, stop) for number in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2)}
        context.call_on_close(lambda: [signal.signal(number, handler) for number, handler in previous.items()])


@cli.group()
def data() -> None:
    """Task data: download it, prepare it under the data root and the datasets cache, and check it."""


def config_from_cli(config_file: str, ext_var: tuple[str, ...], override: tuple[str, ...],
                     overrides: str | None, include: list[str], jpath: tuple[str, ...] = ()) -> tuple[dict, dict]:
    from tartan_fw.common.config import load_config, parse_assignment
    from tartan_fw.plugins import load_plugins

    ext_vars = dict(parse_assignment(item, "--ext-var") for item in ext_var)
    dotted = [parse_assignment(item, "-o") for item in override]
    config = load_config(Path(config_file), ext_vars, overrides, dotted, [Path(folder) for folder in jpath])
    load_plugins([*include, *config.get("include", [])])
    return config, ext_vars


_override_options = [
    click.option("--ext-var", multiple=True, metavar="KEY=VALUE", help="A Jsonnet external variable (repeatable)."),
    click.option("-o", "--override", multiple=True, metavar="DOTTED.KEY=VALUE", help="Set one config value (repeatable)."),
    click.option("--overrides", metavar="JSON", help="A JSON object deep-merged into the config."),
    click.option("--jpath", "-J", multiple=True, metavar="FOLDER",
                 help="A folder of your own Jsonnet libraries to import from (repeatable; the shipped library is "
                      "'tartan_fw/NAME.libsonnet').", type=click.Path(file_okay=False)),
]


def override_options(command: Callable) -> Callable:
    """``--ext-var``, ``-o``, ``--overrides`` and ``--jpath``: how a command changes the experiment file it reads."""
    for option in reversed(_override_options):
        command = option(command)
    return command


def config_options(command: Callable) -> Callable:
    """The experiment file argument ``CONFIG_FILE`` and its :func:`override_options`."""
    return click.argument("config_file", type=click.Path(dir_okay=False))(override_options(command))


threads_option = click.option(
    "--threads", type=click.IntRange(min=1),
    help="CPU threads for torch (default: $OMP_NUM_THREADS, else the cores not already busy). Oversubscribed "
         "threads slow every run on the machine many times over.",
)


def use_threads(threads: int | None) -> None:
    import torch

    from tartan_fw.common.threads import thread_budget

    torch.set_num_threads(threads or thread_budget())


def data_progress(shown: bool) -> None:
    """The libraries' progress bars (datasets' ``Map``, downloads) on a terminal unless the command is quiet;
    never into a batch job's output, where each redraw becomes a line (they draw on stderr)."""
    from tartan_fw.data.arrow import quiet_datasets

    quiet_datasets(progress=shown and sys.stderr.isatty())
