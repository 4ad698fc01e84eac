"""``tartan-fw predict``: label probabilities for new texts from a finished run."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Iterable, Iterator

import click

from tartan_fw.cli.app import cli, data_progress, fail_cleanly
from tartan_fw.data.readers.files import _first_undecodable_line
from tartan_fw.data.readers.jsonl_classification import json_records
from tartan_fw.errors import DataError, TartanError


def records(path: Path) -> Iterator[dict[str, Any]]:
    """Every JSON object of the file, each with a string ``text``, read as they are asked for; the first bad line
    is an error."""
    if not path.exists():
        raise DataError(f"{path}: input file not found")
    try:
        for number, record in json_records(path, "a string 'text' field"):
            if not isinstance(record.get("text"), str):
                raise DataError(f"{path}:{number}: expected a JSON object with a string 'text' field")
            yield record
    except UnicodeDecodeError as err:
        raise DataError(f"{path}:{_first_undecodable_line(path)}: not UTF-8 text ({err.reason}); re-save the file "
                        f"as UTF-8") from err


def count_records(path: Path) -> int:
    """The file's texts, every line checked before anything is predicted or written (also the progress bar's total)."""
    count = sum(1 for _ in records(path))
    if not count:
        raise DataError(f"{path}: no texts to predict")
    return count


def check_output(output: Path, input_file: Path, run_dir: Path) -> None:
    """The predictions may overwrite neither their input nor the run they come from, and must be writable."""
    from tartan_fw.common.files import check_writable
    from tartan_fw.run_directory import is_run_file

    if output.exists() and output.samefile(input_file):
        raise TartanError(f"{output}: is the input file, which the predictions would overwrite; "
                          f"choose another output file with -o")
    if is_run_file(run_dir, output):
        raise TartanError(f"{output}: belongs to the run {run_dir}, whose results the predictions would overwrite; "
                          f"choose another output file with -o")
    check_writable(output)


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("input_file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Output JSONL (default: standard output).")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_obj
@fail_cleanly
def predict(obj: dict, run_dir: str, input_file: str, output: str | None, batch_size: int, device: str,
            quiet: bool) -> None:
    """Label RUN_DIR's end-task for each line of INPUT_FILE (JSONL with a 'text' field).

    Each output line is the input object plus 'prediction' (the most probable label) and
    'probabilities' (label to probability). The input is checked whole first, then read, predicted
    and written a few thousand lines at a time, so memory does not grow with it; the output file is
    written beside its place and renamed once complete, so a failure or an interruption leaves no
    partial file.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from tartan_fw.experiment import resolve_device
    from tartan_fw.trained import load_trained_model
    from tartan_fw.common.files import atomic_write

    data_progress(not quiet)
    source = Path(input_file)
    total = count_records(source)
    if output:
        check_output(Path(output), source, Path(run_dir))  # before predicting everything
    model = load_trained_model(Path(run_dir), resolve_device(device), obj["include"])
    columns = (TextColumn("predict"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True),
                  disable=quiet or not sys.stderr.isatty(), transient=True) as progress:
        job = progress.add_task("predict", total=total)
        predicted = model.predictions(records(source), batch_size, lambda n: progress.advance(job, n))
        lines = (json.dumps(record) + "\n" for record in predicted)
        if output:
            atomic_write(Path(output), lambda out: write_lines(out, lines))
        else:
            sys.stdout.writelines(lines)


def write_lines(out: Any, lines: Iterable[str]) -> None:
    for line in lines:
        out.write(line.encode("utf-8"))
