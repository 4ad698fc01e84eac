"""``tartan-fw data check``: what a task's data holds (duplicates, split overlap, near-duplicates, labels,
truncation), as tables on a terminal or JSON (``tartan_fw/data/check.py`` gathers the facts)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tartan_fw.cli.app import config_from_cli, data, data_progress, fail_cleanly, override_options
from tartan_fw.errors import ConfigurationError, TartanError

if TYPE_CHECKING:
    from rich.table import Table

    from tartan_fw.data.check import CheckTarget, DataReport, Part


@data.command()
@click.argument("target", metavar="CONFIG|TASK|FOLDER")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (a list, one entry per end-task).")
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True), default=0.8, show_default=True,
              help="Jaccard similarity of character 5-grams from which two texts are near-duplicates.")
@click.option("--data-root", type=click.Path(file_okay=False),
              help="Data root (default: the config's data_root, else $TARTAN_DATA, else the cache).")
@override_options
@click.pass_obj
@fail_cleanly
def check(obj: dict, target: str, as_json: bool, threshold: float, data_root: str | None, ext_var: tuple,
          override: tuple, overrides: str | None, jpath: tuple) -> None:
    """Report, for each split of an end-task and each corpus trained beside it: rows, exact duplicates, dev and
    test rows whose text is in train or in the corpus, near-duplicates of train, labels per split, dev and test
    labels train never has, and (given a CONFIG, with its tokenizer) the rows cut at max_length.

    CONFIG is an experiment file; TASK a paper task (chemprot, citation_intent, sciie, hyperpartisan); FOLDER a
    task folder under the data root ({train,dev,test}.jsonl, with train.txt and domain.1xTAPT.txt as corpora).
    Texts are compared whitespace-normalised and lower-cased. Nothing is changed: which rows to drop, if any,
    stays your decision.
    """
    from tartan_fw.data.check import check as check_data

    data_progress(not as_json)
    reports = [check_data(item, threshold) for item in _targets(target, data_root, obj["include"], ext_var, override,
                                                                 overrides, jpath)]
    if as_json:
        click.echo(json.dumps([report.to_dict() for report in reports], indent=2))
        return
    from rich.console import Console

    console = Console() if sys.stdout.isatty() else Console(width=200)  # a file gets whole rows
    for report in reports:
        for table in report_tables(report):
            console.print(table)


def _targets(name: str, data_root: str | None, include: list[str], ext_var: tuple, override: tuple,
             overrides: str | None, jpath: tuple) -> list["CheckTarget"]:
    from tartan_fw.data.check import task_folder_target
    from tartan_fw.data.root import TASKS, DataRoot

    root = DataRoot(data_root)
    if name not in TASKS and Path(name).is_file():
        from tartan_fw.pipeline import check_targets, validate_config

        config, _ = config_from_cli(name, ext_var, override, overrides, include, jpath)
        if data_root:
            config["data_root"] = data_root
        problems = validate_config(config)
        if problems:
            raise ConfigurationError([f"{name}: {p}" for p in problems])
        return check_targets(config)
    if ext_var or override or overrides:
        raise TartanError(f"--ext-var, -o and --overrides set values in an experiment file, and '{name}' is none; "
                          f"drop them, or name the experiment file")
    if name in TASKS or root.locate(name).is_dir():
        return [task_folder_target(name, root)]
    raise TartanError(f"'{name}': not an experiment file, a task of the public release ({', '.join(TASKS)}), nor a "
                      f"task folder under the data root {root.path}; check the name, or set --data-root or TARTAN_DATA")


def report_tables(report: "DataReport") -> list["Table"]:
    """The report's splits and corpora in one table, then the labels per split in another."""
    from rich.table import Table

    truncation = report.max_length is not None
    facts = Table(title=f"{report.name}: texts compared whitespace-normalised and lower-cased", title_justify="left",
                  caption=_caption(report), caption_justify="left")
    for heading in ("split or corpus", "rows", "duplicates", "text in train (same label)", "near-duplicates of train",
                    "dev / test texts it holds", "labels not in train", *(["truncated"] if truncation else [])):
        facts.add_column(heading, justify="left" if heading in ("split or corpus", "labels not in train") else "right")
    for part in report.parts:
        facts.add_row(*_cells(part, truncation))
    title = f"{report.name}: labels per split"
    labels = Table(title=title, title_justify="left", min_width=len(title))
    splits = [part for part in report.parts if part.labels]
    for heading in ("label", *(part.name for part in splits)):
        labels.add_column(heading, justify="left" if heading == "label" else "right")
    for label in sorted({label for part in splits for label in part.labels}):
        labels.add_row(label, *(str(part.labels.get(label, 0)) for part in splits))
    return [facts, labels]


def _cells(part: "Part", truncation: bool) -> list[str]:
    overlap = part.overlap
    cells = [
        part.name,
        str(part.rows),
        str(part.duplicates),
        f"{overlap['in_train']} of {overlap['rows']} ({_share(overlap['in_train'], overlap['rows'])}; "
        f"{overlap['same_label']})" if overlap else "",
        str(len(part.near_train)) if overlap else "",
        " / ".join(str(count) for count in part.holds.values()) if part.holds else "",
        ", ".join(part.unseen_labels) or ("none" if overlap else ""),
    ]
    if truncation:
        cells.append(f"{part.truncated} ({_share(part.truncated or 0, part.rows, '.1%')})")
    return cells


def _share(count: int, total: int, pattern: str = ".0%") -> str:
    return format(count / total, pattern) if total else "-"


def _caption(report: "DataReport") -> str:
    lines = [f"duplicates: rows whose text an earlier row of the same split or corpus has. near-duplicates: dev or "
             f"test rows, not exact copies, whose character 5-grams a train row shares by Jaccard similarity >= "
             f"{report.threshold} (MinHash LSH, each confirmed exactly)."]
    if report.max_length is not None:
        lines.append(f"truncated: rows longer than max_length {report.max_length} tokens of {report.tokenizer} "
                     f"(special tokens included), which the run cuts short.")
    else:
        lines.append("truncated: give an experiment file, whose body's tokenizer and max_length count it.")
    return "\n".join(lines)
