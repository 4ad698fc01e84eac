"""``tartan-fw sweep``: one run per seed, several at once, skipping seeds already finished."""

from __future__ import annotations

from pathlib import Path

import click

from tartan_fw.cli.app import cli, config_from_cli, config_options, fail_cleanly


@cli.command()
@config_options
@click.option("--seeds", default="0-9", show_default=True, help="Seeds: ranges and lists, e.g. 0-4,7.")
@click.option("-s", "--serialization-dir", "output", type=click.Path(file_okay=False),
              help="Sweep directory (default sweeps/<config name>); each seed runs into seed<N>/.")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Runs at the same time; each gets its share of the free cores as its --threads.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.pass_context
@fail_cleanly
def sweep(context: click.Context, config_file: str, ext_var: tuple, override: tuple, overrides: str | None,
          seeds: str, output: str | None, jobs: int, device: str) -> None:
    """Run CONFIG once per seed; a rerun skips finished seeds and resumes interrupted ones."""
    from rich.console import Console

    from tartan_fw.common.threads import thread_budget
    from tartan_fw.errors import ConfigurationError, TartanError
    from tartan_fw.run_lifecycle import write_json
    from tartan_fw.pipeline import validate_config
    from tartan_fw.run_directory import SweepDirectory
    from tartan_fw.sweep import parse_seeds, pending_jobs, run_jobs

    include = context.obj["include"]
    config, _ = config_from_cli(config_file, ext_var, override, overrides, include)
    problems = validate_config(config)
    if problems:
        raise ConfigurationError([f"{config_file}: {p}" for p in problems])
    chosen = parse_seeds(seeds)
    directory = Path(output or Path("sweeps") / Path(config_file).stem)

    def run_arguments(seed: int, seed_dir: Path) -> list[str]:
        options = [item for value in include for item in ("--include-package", value)]
        # Not --quiet: each seed's log (its stdout, a file) gets the run's plain progress lines.
        options += ["run", config_file, "--seed", str(seed), "-s", str(seed_dir), "--device", device,
                    "--threads", str(threads)]
        options += [item for value in ext_var for item in ("--ext-var", value)]
        options += [item for value in override for item in ("-o", value)]
        return options + (["--overrides", overrides] if overrides else [])

    threads = thread_budget(jobs)
    pending, done = pending_jobs(directory, chosen, run_arguments)
    directory.mkdir(parents=True, exist_ok=True)
    write_json(SweepDirectory(directory).settings, {"config": config_file, "ext_vars": list(ext_var), "overrides": list(override),
                                        "overrides_json": overrides, "seeds": chosen})
    console = Console(soft_wrap=True)
    if done:
        console.print(f"{directory}: seeds {', '.join(map(str, done))} finished before; skipped")

    def report(job, code: int, seconds: float) -> None:
        status = "[green]done[/]" if code == 0 else f"[red]failed (exit {code}), see {job.log}[/]"
        console.print(f"seed {job.seed}: {status} in {seconds:.0f}s")

    codes = run_jobs(pending, jobs, threads, report)
    failed = sorted(seed for seed, code in codes.items() if code != 0)
    if failed:
        raise TartanError(
            f"{directory}: seeds {', '.join(map(str, failed))} failed (logs: seed<N>.log there); "
            f"fix the cause and rerun the same command to run only the unfinished seeds"
        )
    console.print(f"{directory}: {len(chosen)} seeds finished")
