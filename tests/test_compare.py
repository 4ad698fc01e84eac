"""``compare`` on hand-written run directories: statistics, p-values, cost and the three output files."""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

import pytest
from click.testing import CliRunner

from tartan_fw.analysis.comparison import compare
from tartan_fw.analysis.permutation import permutation_test
from tartan_fw.cli.main import cli

FINETUNE = [0.60, 0.62, 0.58, 0.61, 0.59]
TARTAN = [0.70, 0.72, 0.69, 0.71, 0.73]


def write_sweep(directory: Path, scores: list[float], metric: str = "macro_f1", flops: float = 2e12,
                pipeline: bool = False) -> Path:
    for seed, score in enumerate(scores):
        run = directory / f"seed{seed}"
        run.mkdir(parents=True)
        metrics = {
            "metric": metric,
            "best_dev": {metric: score + 0.05, "accuracy": 0.9},
            "best_step": 10,
            "test": {metric: score, "accuracy": 0.9},
            "compute": {"body_parameters": 100, "tokens": 1000, "steps": 100 + seed, "wall_time_s": 60.0, "flops": flops},
        }
        if pipeline:
            metrics["pipeline"] = [{"name": "tapt"}, {"name": "finetune"}]
        (run / "metrics.json").write_text(json.dumps(metrics))
    (directory / "seed9").mkdir()  # an unfinished seed: no metrics.json, not counted
    return directory


def test_table_statistics_and_files(tmp_path: Path) -> None:
    finetune = write_sweep(tmp_path / "finetune", FINETUNE, flops=1e12)
    tartan = write_sweep(tmp_path / "tartan", TARTAN, flops=3e12, pipeline=True)
    prefix = tmp_path / "out" / "table"
    result = CliRunner().invoke(cli, ["compare", str(finetune), str(tartan), "--out", str(prefix)])
    assert result.exit_code == 0, result.output
    assert "finetune" in result.output and "tartan" in result.output

    expected_p = permutation_test(TARTAN, FINETUNE).p_value
    assert expected_p == pytest.approx(2 / 252)  # fully separated, exact over C(10, 5) splits

    markdown = (tmp_path / "out" / "table.md").read_text().splitlines()
    assert markdown[0].startswith("| method | runs | test macro_f1 | dev macro_f1 | p vs finetune |")
    row = markdown[3]
    mean, std = 100 * statistics.mean(TARTAN), 100 * statistics.stdev(TARTAN)
    assert f"| tartan | 5 | {mean:.2f} ± {std:.2f} |" in row
    assert f"{expected_p:.3f}" in row and "| 3 |" in row  # 3 TFLOPs

    rows = list(csv.DictReader((tmp_path / "out" / "table.csv").open()))
    assert [r["method"] for r in rows] == ["finetune", "tartan"]
    assert float(rows[0]["test_mean"]) == pytest.approx(statistics.mean(FINETUNE))
    assert float(rows[0]["test_std"]) == pytest.approx(statistics.stdev(FINETUNE))
    assert float(rows[1]["p_vs_baseline"]) == pytest.approx(expected_p)
    assert float(rows[1]["steps"]) == pytest.approx(102)

    document = json.loads((tmp_path / "out" / "table.json").read_text())
    assert document["baseline"] == "finetune" and len(document["methods"][1]["runs"]) == 5
    assert document["tests"] == [{"a": "finetune", "b": "tartan", "difference": pytest.approx(statistics.mean(FINETUNE) - statistics.mean(TARTAN)),
                                  "p_value": pytest.approx(expected_p), "permutations": 252, "exact": True}]


def test_three_methods_get_a_pairwise_table_and_a_chosen_baseline(tmp_path: Path) -> None:
    dirs = [write_sweep(tmp_path / name, scores) for name, scores in
            (("a", FINETUNE), ("b", TARTAN), ("c", [s + 0.005 for s in TARTAN]))]
    comparison = compare(dirs, names=["ft", "mt", "meta"], baseline=1)
    assert comparison.test_against_baseline(1) is None
    assert comparison.pair(2, 1).p_value == comparison.pair(1, 2).p_value > 0.3
    assert comparison.pair(0, 1).difference == pytest.approx(-comparison.pair(1, 0).difference)
    prefix = tmp_path / "three"
    result = CliRunner().invoke(cli, ["compare", *map(str, dirs), "--name", "ft", "--name", "mt", "--name", "meta",
                                      "--baseline", "1", "--out", str(prefix)])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "three.md").read_text()
    assert "p vs mt" in text and "Pairwise p-values" in text and "| meta |" in text


def test_single_runs_and_mismatched_metrics(tmp_path: Path) -> None:
    one = write_sweep(tmp_path / "one", [0.5])
    many = write_sweep(tmp_path / "many", FINETUNE)
    comparison = compare([one, many])
    assert comparison.pair(1, 0) is None  # one run: no test, shown as '-'
    other = write_sweep(tmp_path / "other", FINETUNE, metric="micro_f1")
    result = CliRunner().invoke(cli, ["compare", str(many), str(other)])
    assert result.exit_code == 2 and "different headline metrics" in result.output
    result = CliRunner().invoke(cli, ["compare", str(tmp_path / "one" / "seed9")])
    assert result.exit_code == 2 and "no finished runs" in result.output


def test_the_majority_class_baseline_is_shown_beside_the_methods(tmp_path: Path) -> None:
    finetune = write_sweep(tmp_path / "finetune", FINETUNE)
    tartan = write_sweep(tmp_path / "tartan", TARTAN)
    baseline = {"dev": {"label": "background", "macro_f1": 0.114}, "test": {"label": "background", "macro_f1": 0.0935}}
    for run in (finetune / "seed0", tartan / "seed1"):  # runs from before the report carry none
        metrics = json.loads((run / "metrics.json").read_text())
        (run / "metrics.json").write_text(json.dumps({**metrics, "majority_baseline": baseline}))
    result = CliRunner().invoke(cli, ["compare", str(finetune), str(tartan), "--out", str(tmp_path / "table")])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "majority class" in line)
    assert "majority class ('background')" in row and "9.35" in row and "11.40" in row
    markdown = (tmp_path / "table.md").read_text()
    assert "| majority class ('background') |  | 9.35 | 11.40 |" in markdown
    rows = list(csv.DictReader((tmp_path / "table.csv").open()))
    assert rows[-1]["method"] == "majority class ('background')" and float(rows[-1]["test_mean"]) == 0.0935
    assert json.loads((tmp_path / "table.json").read_text())["majority_baseline"] == baseline
    plain = CliRunner().invoke(cli, ["compare", str(write_sweep(tmp_path / "old", FINETUNE))])
    assert "majority" not in plain.output


def add_unseen(sweep: Path, shift: float) -> None:
    """Each run's scores on the rows whose text is not in train: its test and dev scores moved by ``shift``."""
    for run in sorted(sweep.glob("seed[0-8]")):
        metrics = json.loads((run / "metrics.json").read_text())
        metric = metrics["metric"]
        metrics["test_unseen"] = {metric: metrics["test"][metric] + shift}
        metrics["dev_unseen"] = {metric: metrics["best_dev"][metric] + shift}
        metrics["majority_baseline"] = {split: {"label": "background", metric: 0.1}
                                        for split in ("dev", "test", "dev_unseen", "test_unseen")}
        (run / "metrics.json").write_text(json.dumps(metrics))


def test_ranking_and_testing_on_the_unseen_test_rows(tmp_path: Path) -> None:
    """A method whose edge is memorised train texts loses it on test_unseen; the table says which split it ranks."""
    finetune = write_sweep(tmp_path / "finetune", FINETUNE)
    tartan = write_sweep(tmp_path / "tartan", TARTAN)
    add_unseen(finetune, 0.0)
    add_unseen(tartan, -0.11)  # TARTAN's 0.10 lead came from the rows in train
    comparison = compare([finetune, tartan], split="test_unseen")
    assert comparison.methods[1].mean("test_unseen") == pytest.approx(statistics.mean(TARTAN) - 0.11)
    assert comparison.pair(1, 0).difference == pytest.approx(statistics.mean(TARTAN) - 0.11 - statistics.mean(FINETUNE))
    assert comparison.pair(1, 0).p_value > 0.05
    result = CliRunner().invoke(cli, ["compare", str(finetune), str(tartan), "--split", "test_unseen",
                                      "--out", str(tmp_path / "unseen")])
    assert result.exit_code == 0, result.output
    markdown = (tmp_path / "unseen.md").read_text()
    assert markdown.startswith("| method | runs | test_unseen macro_f1 | dev_unseen macro_f1 |")
    assert "permutation test of test_unseen-score means" in markdown and "majority class" in markdown
    assert "test_unseen_mean" in (tmp_path / "unseen.csv").read_text().splitlines()[0]
    assert json.loads((tmp_path / "unseen.json").read_text())["split"] == "test_unseen"


def test_runs_from_before_the_unseen_scores_are_read_and_named(tmp_path: Path) -> None:
    old = write_sweep(tmp_path / "old", FINETUNE)
    new = write_sweep(tmp_path / "new", TARTAN)
    add_unseen(new, 0.0)
    assert CliRunner().invoke(cli, ["compare", str(old), str(new)]).exit_code == 0  # test: both as before
    result = CliRunner().invoke(cli, ["compare", str(old), str(new), "--split", "test_unseen"])
    assert result.exit_code == 2
    assert f"{old}: no run has test_unseen scores" in result.output and "compare on --split test" in result.output
