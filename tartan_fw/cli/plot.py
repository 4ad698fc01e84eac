"""``tartan-fw plot``: task-weight trajectories and dev curves of runs or sweeps, as PNG files."""

from __future__ import annotations

import os
from pathlib import Path

import click

from tartan_fw.cli.app import cli, fail_cleanly


@cli.command()
@click.argument("directories", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--name", "names", multiple=True, help="A method's name, once per directory in order (default: folder names).")
@click.option("--metric", help="Dev metric to plot (default: the runs' headline metric).")
@click.option("-o", "--out", "output", type=click.Path(file_okay=False),
              help="Folder for weights.png and dev.png (default: the run or sweep directory; for several, their "
                   "common parent).")
@fail_cleanly
def plot(directories: tuple[str, ...], names: tuple[str, ...], metric: str | None, output: str | None) -> None:
    """Plot task weights (weights/<task>) and the dev metric over training; sweeps show mean ± std over seeds."""
    from tartan_fw.analysis.figures import plot_dev, plot_weights, read_group
    from tartan_fw.analysis.runs import read_run, run_directories
    from tartan_fw.errors import TartanError

    paths = [Path(d) for d in directories]
    if names and len(names) != len(paths):
        raise TartanError(f"--name was given {len(names)} times for {len(paths)} directories; give one per directory")
    groups = [read_group(path, name) for path, name in zip(paths, names or [p.name for p in paths])]
    metric = metric or read_run(run_directories(paths[0])[0]).metric
    out = Path(output) if output else paths[0] if len(paths) == 1 else Path(os.path.commonpath([p.resolve() for p in paths]))
    plot_weights(groups, out / "weights.png")
    plot_dev(groups, metric, out / "dev.png")
    click.echo(f"wrote {out / 'weights.png'} and {out / 'dev.png'}")
