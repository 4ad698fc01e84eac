"""``tartan-fw sweep``: one run per experiment file and seed, on this machine or as Slurm job arrays;
``tartan-fw status``: where each seed of a sweep stands."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import click

from tartan_fw.cli.app import cli, config_from_cli, fail_cleanly, override_options

_slurm_options = [
    click.option("--slurm-config", type=click.Path(dir_okay=False, exists=True),
                 help="JSON file of Slurm settings (default ~/.config/tartan-fw/slurm.json if present); "
                      "the options below win over it."),
    click.option("--partition", help="Slurm partition."),
    click.option("--account", help="Slurm account charged."),
    click.option("--time-limit", type=click.IntRange(min=1), metavar="MINUTES",
                 help="Per job; a longer run checkpoints at the limit and is requeued."),
    click.option("--cpus-per-task", type=click.IntRange(min=1), help="CPUs per run, also its torch threads [1]."),
    click.option("--gpus-per-task", type=click.IntRange(min=0), help="GPUs per run."),
    click.option("--mem", help="Memory per run, e.g. 16G."),
    click.option("--array-parallelism", type=click.IntRange(min=1), help="At most this many runs of an array at once."),
    click.option("--sbatch", "sbatch_flags", multiple=True, metavar="KEY=VALUE",
                 help="A further sbatch flag without its dashes, e.g. qos=high (repeatable)."),
]


def slurm_options(command: Callable) -> Callable:
    for option in reversed(_slurm_options):
        command = option(command)
    return command


@cli.command()
@click.argument("config_files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@override_options
@click.option("--seeds", default="0-9", show_default=True, help="Seeds: ranges and lists, e.g. 0-4,7.")
@click.option("-s", "--serialization-dir", "output", type=click.Path(file_okay=False),
              help="Sweep directory (default sweeps/<config name>); each seed runs into seed<N>/. With several "
                   "experiment files: one sweep directory per file inside it (default sweeps/).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--launcher", type=click.Choice(["local", "slurm"]), default="local", show_default=True,
              help="local: processes on this machine; slurm: one job array per experiment file, through submitit.")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="local: runs at the same time; each gets its share of the free cores as its --threads.")
@click.option("--wait", is_flag=True, help="slurm: wait for the jobs to end (else submit, and see tartan-fw status).")
@slurm_options
@click.pass_context
@fail_cleanly
def sweep(context: click.Context, config_files: tuple[str, ...], ext_var: tuple, override: tuple,
          overrides: str | None, jpath: tuple, seeds: str, output: str | None, device: str, launcher: str,
          jobs: int, wait: bool, slurm_config: str | None, sbatch_flags: tuple[str, ...], **slurm: Any) -> None:
    """Run each of CONFIG_FILES once per seed; a rerun skips finished seeds and resumes interrupted ones.

    Several experiment files make a grid (methods x seeds) whose sweep directories go to tartan-fw compare.
    """
    from rich.console import Console

    from tartan_fw.common.threads import thread_budget
    from tartan_fw.errors import ConfigurationError, TartanError
    from tartan_fw.run_lifecycle import write_json
    from tartan_fw.pipeline import validate_config
    from tartan_fw.run_directory import SweepDirectory
    from tartan_fw.sweep import SeedJob, parse_seeds, pending_jobs, run_jobs, sweep_directories

    include = context.obj["include"]
    problems = []
    for config_file in config_files:
        config, _ = config_from_cli(config_file, ext_var, override, overrides, include, jpath)
        problems += [f"{config_file}: {p}" for p in validate_config(config)]
    if problems:
        raise ConfigurationError(problems)
    chosen = parse_seeds(seeds)
    directories = sweep_directories([Path(f) for f in config_files], Path(output) if output else None)
    settings = None
    slurm_given = [name for name, value in {**slurm, "slurm_config": slurm_config, "sbatch": sbatch_flags,
                                            "wait": wait}.items() if value]
    if launcher == "local" and slurm_given:
        raise TartanError(f"--{slurm_given[0].replace('_', '-')} is for --launcher slurm; add it, or drop the option")
    if launcher == "slurm":
        from tartan_fw.slurm import load_settings

        settings = load_settings(Path(slurm_config) if slurm_config else None,
                                 {**slurm, "sbatch": _assignments(sbatch_flags) or None})
    threads = settings.cpus_per_task if settings else thread_budget(jobs)

    def run_arguments(config_file: str) -> Callable[[int, Path], list[str]]:
        def arguments(seed: int, seed_dir: Path) -> list[str]:
            options = [item for value in include for item in ("--include-package", value)]
            # Not --quiet: each seed's log (its stdout, a file) gets the run's plain progress lines.
            options += ["run", config_file, "--seed", str(seed), "-s", str(seed_dir), "--device", device,
                        "--threads", str(threads)]
            options += [item for value in ext_var for item in ("--ext-var", value)]
            options += [item for value in override for item in ("-o", value)]
            options += [item for value in jpath for item in ("--jpath", value)]
            return options + (["--overrides", overrides] if overrides else [])
        return arguments

    console = Console(soft_wrap=True)
    pending: dict[Path, list[SeedJob]] = {}
    for config_file, directory in zip(config_files, directories):
        pending[directory], done = pending_jobs(directory, chosen, run_arguments(config_file))
        directory.mkdir(parents=True, exist_ok=True)
        write_json(SweepDirectory(directory).settings,
                   {"config": config_file, "ext_vars": list(ext_var), "overrides": list(override),
                    "overrides_json": overrides, "jpath": list(jpath), "seeds": chosen})
        if done:
            console.print(f"{directory}: seeds {', '.join(map(str, done))} finished before; skipped")

    def label(job: SeedJob) -> str:
        return job.name if len(directories) > 1 else f"seed {job.seed}"

    def report(job: SeedJob, ok: bool, seconds: float) -> None:
        status = "[green]done[/]" if ok else f"[red]failed, see {job.log}[/]"
        console.print(f"{label(job)}: {status} in {seconds:.0f}s")

    every_job = [job for directory in directories for job in pending[directory]]
    if settings is None:
        codes, holders = run_jobs(every_job, jobs, threads, lambda job, code, seconds: report(job, code == 0, seconds),
                                  lambda job, pid: console.print(f"{label(job)}: being run by pid {pid}; not started here"))
        finished = {job: code == 0 for job, code in codes.items()}
    else:
        from tartan_fw.slurm import submit
        from tartan_fw.slurm import wait as wait_for

        ids = {}
        for directory in directories:
            submitted = submit(pending[directory], directory, settings)
            if submitted:
                array = next(iter(submitted.values())).split("_")[0]
                console.print(f"{directory}: {len(submitted)} seeds submitted as Slurm job array {array}")
            ids.update(submitted)
        if not wait:
            console.print(f"see where they stand with: tartan-fw status {' '.join(map(str, directories))}")
            return
        finished, holders = wait_for(ids, report), {}
    failed = sorted(job.name for job, ok in finished.items() if not ok)
    if failed:
        raise TartanError(f"{', '.join(failed)} failed (logs: seed<N>.log beside each); fix the cause and rerun "
                          f"the same command to run only the unfinished seeds")
    if holders:
        raise TartanError(f"{', '.join(sorted(map(label, holders)))} are being run by other processes "
                          f"(pids {', '.join(holders.values())}); rerun the same command once they end to see "
                          f"every seed finished")
    for directory in directories:
        console.print(f"{directory}: {len(chosen)} seeds finished")
    if len(directories) > 1:
        console.print(f"compare them with: tartan-fw compare {' '.join(map(str, directories))}")


def _assignments(flags: tuple[str, ...]) -> dict[str, str]:
    from tartan_fw.errors import TartanError

    pairs = {}
    for flag in flags:
        key, equals, value = flag.partition("=")
        if not equals or not key:
            raise TartanError(f"--sbatch {flag!r}: write KEY=VALUE without the dashes, e.g. --sbatch qos=high")
        pairs[key.lstrip("-")] = value
    return pairs


@cli.command()
@click.argument("directories", nargs=-1, required=True, type=click.Path(file_okay=False, exists=True))
@fail_cleanly
def status(directories: tuple[str, ...]) -> None:
    """Where each seed of the sweep DIRECTORIES stands: finished, started or not, and its Slurm job's state."""
    from rich.console import Console
    from rich.table import Table

    from tartan_fw.slurm import sweep_states

    for directory in directories:
        table = Table(title=directory, title_justify="left")
        for column in ("seed", "run", "slurm job", "slurm state"):
            table.add_column(column)
        for seed, state, job_id, job_state in sweep_states(Path(directory)):
            table.add_row(str(seed), state, job_id, job_state)
        Console(soft_wrap=True).print(table)
