"""``tartan-fw export``: a run's end-task model in Hugging Face format (see docs/how-to/export.md)."""

from __future__ import annotations

from pathlib import Path

import click

from tartan_fw.cli.app import cli, data_progress, fail_cleanly


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.pass_obj
@fail_cleanly
def export(obj: dict, run_dir: str, out_dir: str) -> None:
    """Write RUN_DIR's best end-task model to OUT_DIR in Hugging Face format (BERT and RoBERTa bodies:
    a sequence classifier with id2label), plus head.safetensors and labels.json (docs/how-to/export.md)."""
    import torch

    from tartan_fw.trained import check_export_target, export_model, load_trained_model

    data_progress(True)  # transformers' "Writing model shards" bar on a terminal only
    check_export_target(Path(out_dir))
    model = load_trained_model(Path(run_dir), torch.device("cpu"), obj["include"])
    written = export_model(model, Path(out_dir))
    click.echo(f"{out_dir}: {written}, {len(model.labels)} labels")
