"""The ``tartan-fw`` command line. Heavy imports happen inside commands so ``--help`` is instant."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tartan_fw.cli import compare, data_check, export, plot, predict, sweep  # noqa: F401  (each registers its command)
from tartan_fw.cli.app import (
    cli, config_from_cli, config_options, data, data_progress, fail_cleanly, override_options, threads_option,
    use_threads,
)
from tartan_fw.common.constraints import MAX_SEED
from tartan_fw.errors import ConfigurationError, TartanError

if TYPE_CHECKING:
    from tartan_fw.training.results import RunMetrics


@cli.command()
@config_options
@click.option("-s", "--serialization-dir", "output", type=click.Path(file_okay=False), help="Run directory.")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), help="Overrides the config's seed.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--force", is_flag=True, help="Replace an existing run directory.")
@click.option("--resume", is_flag=True, help="Continue the unfinished run in the directory from its last checkpoint.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@threads_option
@click.pass_obj
@fail_cleanly
def run(obj: dict, config_file: str, ext_var: tuple, override: tuple, overrides: str | None, jpath: tuple,
        output: str | None,
        seed: int | None, device: str, force: bool, resume: bool, quiet: bool, threads: int | None) -> None:
    """Train and evaluate an experiment or pipeline; writes the run directory and metrics.json.

    Under torchrun (torchrun --nproc_per_node N -m tartan_fw.cli.main run ...) each process
    trains on its share of every batch.
    """
    from tartan_fw.experiment import resolve_device
    from tartan_fw.pipeline import run_config

    if force and resume:
        raise TartanError("--force replaces the run directory and --resume continues it; pass one of them")
    use_threads(threads)
    data_progress(not quiet)
    config, ext_vars = config_from_cli(config_file, ext_var, override, overrides, obj["include"], jpath)
    if seed is not None:
        config["seed"] = seed
    directory = Path(output or Path("runs") / f"{Path(config_file).stem}-seed{config.get('seed', 0)}")
    metrics = run_config(config, directory, resolve_device(device), force, not quiet, ext_vars, resume)
    _print_result(directory, metrics, quiet)


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@threads_option
@click.pass_obj
@fail_cleanly
def resume(obj: dict, run_dir: str, device: str, quiet: bool, threads: int | None) -> None:
    """Continue an interrupted run from its last checkpoint, with the config saved in RUN_DIR."""
    from tartan_fw.common.files import read_json
    from tartan_fw.experiment import resolve_device
    from tartan_fw.pipeline import run_config
    from tartan_fw.run_directory import RunDirectory, read_run_config

    use_threads(threads)
    data_progress(not quiet)
    directory = Path(run_dir)
    config = read_run_config(directory, obj["include"])
    ext_vars = read_json(RunDirectory(directory).ext_vars, "write the ext-vars the run was started with into it "
                                                          "({} for none), or start the run again with --force")
    metrics = run_config(config, directory, resolve_device(device), False, not quiet, ext_vars, resume=True)
    _print_result(directory, metrics, quiet)


def _print_result(directory: Path, metrics: "RunMetrics", quiet: bool) -> None:
    """The summary (also in log.txt); a trivial result's warning was logged when the run finished."""
    from tartan_fw.analysis.summary import summary_lines

    journal_printed = not quiet and not sys.stdout.isatty()  # a batch job's stdout has the run's journal
    if os.environ.get("RANK", "0") == "0" and not journal_printed:  # under torchrun rank 0 speaks for all
        for line in summary_lines(directory, metrics.to_dict()):
            click.echo(line)


@cli.command()
@config_options
@click.option("--config-only", is_flag=True,
              help="Check the config's keys, types and ranges alone: not its data files, nor what needs the "
                   "components' resolved values (unique task names, a weight per task).")
@click.pass_obj
@fail_cleanly
def validate(obj: dict, config_file: str, ext_var: tuple, override: tuple, overrides: str | None, jpath: tuple,
             config_only: bool) -> None:
    """Check a config against the registry and the declared ranges, then the checks that need the components'
    resolved values, and that every data file it needs exists or can be derived (train.txt from train.jsonl)
    or fetched, without loading models or data."""
    from tartan_fw.errors import ConfigurationError
    from tartan_fw.pipeline import data_problems, validate_config

    config, _ = config_from_cli(config_file, ext_var, override, overrides, obj["include"], jpath)
    problems, cause = validate_config(config), None
    if not problems and not config_only:
        try:
            problems = data_problems(config)
        except ConfigurationError as err:  # a check that needs the components' resolved values
            problems, cause = err.problems, err
    if problems:
        raise ConfigurationError([f"{config_file}: {p}" for p in problems]) from cause
    click.echo(f"{config_file}: ok")


@cli.command(name="list")
@click.argument("family", required=False)
@click.pass_obj
@fail_cleanly
def list_components(obj: dict, family: str | None) -> None:
    """Every registered component with its parameters and one-line doc."""
    from rich.console import Console
    from rich.table import Table

    from tartan_fw.common.registrable import families
    from tartan_fw.experiment import Experiment
    from tartan_fw.plugins import load_plugins
    from tartan_fw.reference import STAGES, description, parameters

    load_plugins(obj["include"])  # the built-in components first
    chosen = [f for f in families() if family in (None, f.family)]
    if not chosen and family != "experiment":
        raise TartanError(f"unknown family '{family}'; families: experiment, {', '.join(f.family for f in families())}")
    console = Console() if sys.stdout.isatty() else Console(width=200)
    if family in (None, "experiment"):
        table = Table(title="experiment: the top-level keys of an experiment file", title_justify="left")
        for column in ("key", "value", "description"):
            table.add_column(column)
        for p in parameters(Experiment):
            required = "required" if p.default is None else f"default {p.default}"
            table.add_row(p.name, f"{p.type}, {required}", p.doc)
        table.add_row("stages", "list, optional", STAGES)
        console.print(table)
    for base in chosen:
        table = Table(title=base.family, show_lines=False, title_justify="left")
        for column in ("name", "parameters", "description"):
            table.add_column(column)
        for name in base.list_available():
            cls = base.by_name(name)
            params = parameters(cls, getattr(base, "injected_parameters", ()))
            shown = ", ".join(p.name + ("" if p.default is None else f"={p.default}") for p in params)
            table.add_row(name, shown, (description(cls).splitlines() or [""])[0])
        console.print(table)


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--split", type=click.Choice(["dev", "test"]), default="test", show_default=True)
@click.option("--data-root", type=click.Path(file_okay=False),
              help="Read the data from here (default: where the run read it, unless $TARTAN_DATA is set).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.pass_obj
@fail_cleanly
def evaluate(obj: dict, run_dir: str, split: str, data_root: str | None, device: str) -> None:
    """Reload a run's best checkpoint and recompute the end-task metrics on its data, from any folder or shell:
    on every row of the split, and under ``<split>_unseen`` on the rows whose text is not in train."""
    from tartan_fw.experiment import resolve_device
    from tartan_fw.runner import load_run

    data_progress(True)
    run = load_run(Path(run_dir), resolve_device(device), obj["include"], data_root)
    result = run.evaluate(split)
    report = {"split": split, "metric": run.end_task.metric, **result.metrics}
    if split in run.end_task.overlap:
        unseen = run.unseen(result)
        report[unseen.split] = {"rows": len(unseen.gold), "of": len(result.gold), **unseen.metrics}
    click.echo(json.dumps(report, indent=2))


@data.command()
@click.argument("targets", nargs=-1, required=True, metavar="TASK_OR_CONFIG...")
@click.option("--to", "target", type=click.Path(file_okay=False),
              help="Data root (default: the config's data_root, else $TARTAN_DATA, else the cache).")
@override_options
@click.pass_obj
@fail_cleanly
def fetch(obj: dict, targets: tuple[str, ...], target: str | None, ext_var: tuple, override: tuple,
          overrides: str | None, jpath: tuple) -> None:
    """Download and prepare data, so that runs after it need no network.

    A paper task (chemprot, citation_intent, sciie, hyperpartisan) is downloaded from the public release
    and its train.txt derived; a folder of your own under the data root is checked and its train.txt
    derived; an experiment file has every source it reads made ready: files downloaded or derived,
    hub datasets downloaded into the datasets cache ($TARTAN_CACHE/datasets), each read once into the
    Arrow cache. One line per source says what was done.
    """
    from tartan_fw.data.prepare import prepare, task_folder_needs
    from tartan_fw.data.root import TASKS, DataRoot, fetch_task
    from tartan_fw.pipeline import data_needs, validate_config

    if (ext_var or override or overrides) and not any(name not in TASKS and Path(name).is_file() for name in targets):
        raise TartanError("--ext-var, -o and --overrides set values in an experiment file, and none of "
                          f"{', '.join(targets)} is one; drop them, or name the experiment file to fetch for")
    data_progress(True)
    root = DataRoot(target)
    for name in targets:
        if name in TASKS:
            for path in fetch_task(name, root.path):
                click.echo(str(path))
        elif Path(name).is_file():
            config, _ = config_from_cli(name, ext_var, override, overrides, obj["include"], jpath)
            if target:
                config["data_root"] = target
            problems = validate_config(config)
            if problems:
                raise ConfigurationError([f"{name}: {p}" for p in problems])
            prepare(data_needs(config), click.echo)
        elif root.locate(name).is_dir():
            prepare(task_folder_needs(name, root), click.echo)
        else:
            raise TartanError(f"'{name}': not a task of the public release ({', '.join(TASKS)}), nor an experiment "
                              f"file, nor a task folder under the data root {root.path}; check the name, or set "
                              f"--to or TARTAN_DATA to the data root holding it")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
