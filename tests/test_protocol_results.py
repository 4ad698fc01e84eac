"""tools/protocol_results.py rebuilds the paper-protocol table from committed results: full test, the test rows
unseen in train (from the stored predictions), permutation p-values against fine-tuning and TAPT, compute."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[1] / "tools" / "protocol_results.py"
TRAIN = ["a cat sat", "the dog ran", "birds fly high"]
TEST = [("A  cat sat", "x"), ("new text one", "x"), ("new text two", "y"), ("new text three", "y")]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def write_seed(folder: Path, test_f1: float, predicted: list[str]) -> None:
    folder.mkdir(parents=True)
    folder.joinpath("metrics.json").write_text(json.dumps({
        "metric": "macro_f1", "test": {"macro_f1": test_f1}, "best_dev": {"macro_f1": 0.5},
        "compute": {"flops": 2e12, "wall_time_s": 1800.0}}))
    write_jsonl(folder / "test_predictions.jsonl",
                [{"row": i, "label": label, "prediction": p} for i, ((_, label), p) in enumerate(zip(TEST, predicted))])


def test_the_table_scores_the_unseen_rows_and_tests_against_both_baselines(tmp_path: Path) -> None:
    data = tmp_path / "data" / "toy"
    data.mkdir(parents=True)
    write_jsonl(data / "train.jsonl", [{"text": t, "label": "x"} for t in TRAIN])
    write_jsonl(data / "test.jsonl", [{"text": t, "label": label} for t, label in TEST])
    results = tmp_path / "results" / "toy"
    for seed, f1 in enumerate([0.40, 0.42, 0.41]):
        write_seed(results / "finetune" / f"seed{seed}", f1, ["x", "x", "x", "x"])  # unseen: x,y,y -> 0.25 macro-F1
        write_seed(results / "mt" / f"seed{seed}", f1 + 0.2, ["y", "x", "y", "y"])  # unseen: all right -> 1.0
    done = subprocess.run([sys.executable, str(TOOL), str(results), "--data-root", str(tmp_path / "data")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "test unseen (3 of 4)" in lines[0]  # whitespace and case do not hide the seen row
    finetune, mt = ([c.strip() for c in line.strip("|").split("|")] for line in lines[2:4])
    assert finetune[:4] == ["Fine-tune", "-", "3", "41.00 ± 1.00"]
    assert finetune[6] == "25.00 ± 0.00" and mt[6] == "100.00 ± 0.00"
    assert mt[4] == "0.100" and mt[5] == "-"  # 3 vs 3 seeds, exact: the most extreme of 20 splits, both sides
    assert finetune[-2:] == ["2.00 ± 0.00", "0.50 ± 0.00"]


def test_a_data_root_without_the_task_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "results" / "toy").mkdir(parents=True)
    done = subprocess.run([sys.executable, str(TOOL), str(tmp_path / "results" / "toy"), "--data-root", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and done.stderr.strip().endswith("--data-root must hold the task's data")
