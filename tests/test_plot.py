"""``plot`` writes PNG figures of weight trajectories and dev curves from runs' TensorBoard events."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tartan_fw.analysis.figures import read_group
from tartan_fw.cli.main import cli

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def write_run(run: Path, shift: float, tensorboard: Path | None = None) -> None:
    """A finished run with weight and dev scalars, as the trainer logs them."""
    from torch.utils.tensorboard import SummaryWriter

    run.mkdir(parents=True)
    writer = SummaryWriter(log_dir=str(tensorboard or run / "tensorboard"))
    for step in range(1, 11):
        writer.add_scalar("weights/tiny", 0.3 + shift + 0.01 * step, step)
        writer.add_scalar("weights/tapt", 0.7 - shift - 0.01 * step, step)
        if step % 5 == 0:
            writer.add_scalar("eval/macro_f1", 0.5 + shift + 0.02 * step, step)
    writer.close()
    (run / "metrics.json").write_text(json.dumps({"metric": "macro_f1", "test": {"macro_f1": 0.6}, "best_dev": {}}))


def assert_png(path: Path) -> None:
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


def test_plot_writes_readable_pngs_for_a_sweep_and_a_run(tmp_path: Path) -> None:
    write_run(tmp_path / "meta" / "seed0", 0.0)
    write_run(tmp_path / "meta" / "seed1", 0.1)
    write_run(tmp_path / "single", 0.05)
    out = tmp_path / "figures"
    result = CliRunner().invoke(cli, ["plot", str(tmp_path / "meta"), str(tmp_path / "single"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert_png(out / "weights.png")
    assert_png(out / "dev.png")


def test_sweep_curves_pool_the_seeds_and_pipelines_use_their_last_stage(tmp_path: Path) -> None:
    write_run(tmp_path / "sweep" / "seed0", 0.0)
    write_run(tmp_path / "sweep" / "seed1", 0.1)
    group = read_group(tmp_path / "sweep", "mt")
    assert group.tags("weights/") == ["weights/tapt", "weights/tiny"]
    assert [round(v, 4) for v in group.curves["weights/tiny"][1]] == [0.31, 0.41]

    pipeline = tmp_path / "pipeline"
    write_run(pipeline, 0.0, tensorboard=pipeline / "finetune" / "tensorboard")
    metrics = json.loads((pipeline / "metrics.json").read_text())
    (pipeline / "metrics.json").write_text(json.dumps({**metrics, "pipeline": [{"name": "tapt"}, {"name": "finetune"}]}))
    assert sorted(read_group(pipeline, "tapt").curves["eval/macro_f1"]) == [5, 10]


def test_missing_metric_is_reported(tmp_path: Path) -> None:
    write_run(tmp_path / "run", 0.0)
    result = CliRunner().invoke(cli, ["plot", str(tmp_path / "run"), "--metric", "accuracy", "-o", str(tmp_path / "f")])
    assert result.exit_code == 2 and "eval/accuracy" in result.output and "--metric" in result.output


def test_plot_writes_into_the_run_directory_by_default(tmp_path: Path, monkeypatch) -> None:
    write_run(tmp_path / "runs" / "meta" / "seed0", 0.0)
    write_run(tmp_path / "runs" / "single", 0.05)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["plot", "runs/single"])
    assert result.exit_code == 0, result.output
    assert_png(tmp_path / "runs" / "single" / "weights.png")
    result = CliRunner().invoke(cli, ["plot", "runs/meta", "runs/single"])
    assert result.exit_code == 0, result.output
    assert_png(tmp_path / "runs" / "dev.png")  # several directories: their common parent
    assert not (tmp_path / "plots").exists() and not (tmp_path / "weights.png").exists()
