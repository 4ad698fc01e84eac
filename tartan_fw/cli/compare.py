"""``tartan-fw compare``: methods' scores over seeds, significance and cost, as a table and files."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tartan_fw.cli.app import cli, fail_cleanly


@cli.command()
@click.argument("directories", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--name", "names", multiple=True, help="A method's name, once per directory in order (default: folder names).")
@click.option("--baseline", type=int, default=0, show_default=True, help="Position of the method p-values are against.")
@click.option("--permutations", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="Random relabellings (all are enumerated when there are fewer).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random relabellings.")
@click.option("--split", type=click.Choice(["test", "test_unseen"]), default="test", show_default=True,
              help="Rank and test on every test row, or on those whose text is not in train (beside dev_unseen).")
@click.option("--out", "prefix", metavar="PREFIX", help="Also write PREFIX.md, PREFIX.csv and PREFIX.json.")
@fail_cleanly
def compare(directories: tuple[str, ...], names: tuple[str, ...], baseline: int, permutations: int, seed: int,
            split: str, prefix: str | None) -> None:
    """Compare methods, one sweep directory each: mean ± std over seeds, permutation-test p-values, compute."""
    from rich.console import Console
    from rich.table import Table

    from tartan_fw.analysis.comparison import compare as compare_methods
    from tartan_fw.analysis.comparison import table_rows, to_csv, to_json, to_markdown

    comparison = compare_methods([Path(d) for d in directories], list(names) or None, baseline, permutations, seed,
                                 split)
    header, rows = table_rows(comparison)
    table = Table(title=f"{split}/{comparison.dev_split} {comparison.metric} x100 (mean ± std over seeds); two-sided permutation test",
                  title_justify="left")
    for column in header:
        table.add_column(column, justify="left" if column == "method" else "right")
    for row in rows:
        table.add_row(*row)
    console = Console() if sys.stdout.isatty() else Console(width=200)  # a file gets whole rows, not 80 columns
    console.print(table)
    if prefix:
        out = Path(prefix)
        out.parent.mkdir(parents=True, exist_ok=True)
        for suffix, text in ((".md", to_markdown(comparison)), (".csv", to_csv(comparison)), (".json", to_json(comparison))):
            out.with_name(out.name + suffix).write_text(text)
        console.print(f"wrote {prefix}.md, {prefix}.csv, {prefix}.json")
