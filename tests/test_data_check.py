"""``tartan-fw data check`` and the run's start-up check: planted duplicates, overlaps, near-duplicates, unseen
labels and over-long rows on tiny data of every reader type, found and counted; the paper tasks' counts on
the real data; the scores on the unseen rows in metrics.json, ``evaluate`` and the run's summary."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any, Callable

import pytest

from conftest import REAL_DATA, invoke, needs_real_data, write_tiny_task
from tartan_fw.data.check import NearDuplicates, check, shingles, task_folder_target, train_overlap
from tartan_fw.data.root import DataRoot
from tartan_fw.pipeline import check_targets

WORDS = ("river stone garden winter paper engine market window silver forest music doctor planet "
         "bridge letter summer island coffee camera pencil orange travel castle farmer school ocean "
         "rocket butter candle jacket ladder mirror basket dragon flower hammer kitten lemon meadow").split()
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
MAX_LENGTH = 32  # MiniLM's word pieces: every word above is one token


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def planted() -> dict[str, Any]:
    """Splits with every problem planted once, and the counts a check must find.

    train: 12 texts, one copy of its first differing only in case and spacing (a duplicate), and one of
    60 words (over MAX_LENGTH); dev: train[1]'s text re-spaced and upper-cased with its label (in train, same
    label), train[2] with one word changed (a near-duplicate), a label train never has, a fresh text; test:
    train[3]'s text under another label, train[4]'s as it is, a fresh text the corpus holds.
    """
    rng = random.Random(7)
    train = [(sentence(rng, 20 if i == 2 else 6), "ab"[i % 2]) for i in range(12)]
    train += [("  " + train[0][0].upper().replace(" ", "   "), train[0][1]), (sentence(rng, 60), "b")]
    changed = train[2][0].split()
    changed[10] = "zebra" if changed[10] != "zebra" else "yacht"
    fresh_test = sentence(rng, 6)
    dev = [(" ".join(train[1][0].upper().split()) + "\t", train[1][1]), (" ".join(changed), "a"),
           (sentence(rng, 6), "c"), (sentence(rng, 6), "b")]
    test = [(train[3][0], "a" if train[3][1] == "b" else "b"), train[4], (fresh_test, "a")]
    corpus = [sentence(rng, 6) for _ in range(3)] + [fresh_test]
    return {"train": train, "dev": dev, "test": test, "corpus": corpus}


def write_jsonl(folder: Path, name: str, rows: list[tuple[str, str]]) -> None:
    with (folder / name).open("w") as out:
        for text, label in rows:
            out.write(json.dumps({"text": text, "label": label}) + "\n")


def write_csv(folder: Path, name: str, rows: list[tuple[str, str]]) -> None:
    with (folder / name).open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["text", "label"])
        writer.writerows(rows)


def write_parquet(folder: Path, name: str, rows: list[tuple[str, str]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": [t for t, _ in rows], "label": [label for _, label in rows]}), folder / name)


def write_saved(folder: Path, name: str, rows: list[tuple[str, str]]) -> None:
    from datasets import Dataset

    table = {"text": [t for t, _ in rows], "label": [label for _, label in rows]}
    Dataset.from_dict(table).save_to_disk(str(folder / name))


# reader config, writer, file per split (the reader's default names)
READERS: dict[str, tuple[Callable[[Path], dict], Callable, dict[str, str]]] = {
    "jsonl": (lambda folder: {"type": "jsonl_classification"}, write_jsonl,
              {"train": "train.jsonl", "dev": "dev.jsonl", "test": "test.jsonl"}),
    "csv": (lambda folder: {"type": "csv"}, write_csv, {"train": "train.csv", "dev": "dev.csv", "test": "test.csv"}),
    "parquet": (lambda folder: {"type": "parquet"}, write_parquet,
                {"train": "train.parquet", "dev": "dev.parquet", "test": "test.parquet"}),
    "saved": (lambda folder: {"type": "saved"}, write_saved, {"train": "train", "dev": "validation", "test": "test"}),
    # a folder of data files stands in for a hub repository; load_dataset names the splits by file name
    "hub": (lambda folder: {"type": "hub", "path": str(folder / "hub")}, write_jsonl,
            {"train": "hub/train.jsonl", "dev": "hub/validation.jsonl", "test": "hub/test.jsonl"}),
}


def planted_config(root: Path, reader: str) -> dict[str, Any]:
    data = planted()
    folder = root / "planted"
    folder.mkdir(parents=True)
    reader_config, write, files = READERS[reader]
    for split, name in files.items():
        (folder / name).parent.mkdir(exist_ok=True)
        write(folder, name, data[split])
    (folder / "corpus.txt").write_text("\n".join(data["corpus"]) + "\n")
    return {
        "data_root": str(root),
        "body": {"type": "huggingface", "model_name": MINILM, "max_length": MAX_LENGTH},
        "end_task": {"type": "classification", "dataset": "planted", "reader": reader_config(folder)},
        "aux_tasks": [{"type": "mlm", "name": "tapt", "corpus": "planted/corpus.txt"}],
    }


@pytest.mark.parametrize("reader", sorted(READERS))
def test_every_planted_problem_is_found_through_each_reader(tmp_path: Path, reader: str) -> None:
    [target] = check_targets(planted_config(tmp_path / "data", reader))
    report = check(target)
    parts = {part.name: part for part in report.parts}
    assert list(parts) == ["train", "dev", "test", "aux_tasks[0] (tapt)"]
    train, dev, test, corpus = parts.values()
    assert (train.rows, train.duplicates, train.truncated) == (14, 1, 1)
    assert train.labels == {"a": 7, "b": 7} and train.overlap is None
    assert dev.overlap == {"rows": 4, "in_train": 1, "same_label": 1, "unseen": 3}
    assert [near[0] for near in dev.near_train] == [dev.in_train_rows[0] + 1]  # the row after the copy
    assert dev.unseen_labels == ["c"] and dev.labels == {"a": 1, "b": 2, "c": 1}
    assert test.overlap == {"rows": 3, "in_train": 2, "same_label": 1, "unseen": 1}
    assert test.near_train == [] and test.unseen_labels == []
    assert (dev.truncated, test.truncated) == (0, 0)
    assert (corpus.rows, corpus.holds, corpus.labels, corpus.truncated) == (4, {"dev": 0, "test": 1}, {}, 0)
    assert report.max_length == MAX_LENGTH and report.tokenizer


def test_line_numbers_name_the_rows_in_the_file(tmp_path: Path) -> None:
    """jsonl rows are named by their line (1-based), as every error of the readers names them."""
    [target] = check_targets(planted_config(tmp_path / "data", "jsonl"))
    parts = {part.name: part for part in check(target).parts}
    assert parts["dev"].in_train_rows == [1] and parts["test"].in_train_rows == [1, 2]
    assert parts["dev"].near_train[0][:2] == [2, 3]  # dev line 2 is a near copy of train line 3
    assert parts["dev"].near_train[0][2] >= 0.8


def test_near_duplicates_are_confirmed_on_the_exact_shingles() -> None:
    rng = random.Random(0)
    reference = [sentence(rng, 20) for _ in range(50)]
    words = reference[7].split()
    words[3] = "zebra"
    altered = " ".join(words)
    similarity = len(shingles(altered) & shingles(reference[7])) / len(shingles(altered) | shingles(reference[7]))
    found = NearDuplicates(reference).matches([altered, reference[9].upper(), sentence(rng, 20)])
    assert found == [(0, 7, pytest.approx(similarity))]  # an exact copy is not near; a stranger is not either
    assert NearDuplicates(reference, threshold=min(0.99, similarity + 0.01)).matches([altered]) == []


def test_cli_prints_the_tables_and_json(tmp_path: Path) -> None:
    config = tmp_path / "planted.json"
    config.write_text(json.dumps(planted_config(tmp_path / "data", "csv")))
    table = invoke("data", "check", str(config))
    assert table.exit_code == 0, table.output
    assert "planted: texts compared whitespace-normalised and lower-cased" in table.output
    assert "1 of 4 (25%; 1)" in table.output and "2 of 3 (67%; 1)" in table.output
    assert "labels per split" in table.output and f"max_length {MAX_LENGTH} tokens" in table.output
    as_json = invoke("data", "check", str(config), "--json", "--threshold", "0.99")
    assert as_json.exit_code == 0, as_json.output
    [report] = json.loads(as_json.output)
    assert report["near_duplicate_threshold"] == 0.99
    assert [part["near_train"] for part in report["parts"][1:3]] == [[], []]


def test_a_task_folder_is_checked_with_its_corpora_and_without_truncation(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "data"
    write_tiny_task(root)
    monkeypatch.setenv("TARTAN_DATA", str(root))
    [report] = json.loads(invoke("data", "check", "tiny", "--json").output)
    assert [part["name"] for part in report["parts"]] == ["train", "dev", "test", "TAPT corpus", "DAPT corpus"]
    assert report["max_length"] is None and all(part["truncated"] is None for part in report["parts"])
    missing = invoke("data", "check", "nonesuch")
    assert missing.exit_code == 2 and "nor a task folder under the data root" in missing.output


def run_task(root: Path, dev_in_train: int, test_in_train: int) -> Path:
    """The tiny task with the first train texts copied into dev and test (labels kept)."""
    folder = write_tiny_task(root)
    train = [json.loads(line) for line in (folder / "train.jsonl").open()]
    for split, count in (("dev", dev_in_train), ("test", test_in_train)):
        rows = [json.loads(line) for line in (folder / f"{split}.jsonl").open()]
        rows[:count] = train[:count]
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return folder


def test_the_start_up_check_counts_from_the_cached_tables(tmp_path: Path) -> None:
    folder = run_task(tmp_path / "data", dev_in_train=3, test_in_train=5)
    target = task_folder_target(folder.name, DataRoot(folder.parent))
    overlap = train_overlap({split: source.read(target.root) for split, source in target.splits.items()})
    assert {split: o.to_dict() for split, o in overlap.items()} == {
        "dev": {"rows": 12, "in_train": 3, "same_label": 3, "unseen": 9},
        "test": {"rows": 12, "in_train": 5, "same_label": 5, "unseen": 7},
    }
    assert overlap["test"].unseen() == list(range(5, 12))


def test_a_run_warns_records_the_overlap_and_scores_the_unseen_rows(tmp_path: Path, tiny, caplog) -> None:
    run_task(tmp_path / "data", dev_in_train=3, test_in_train=5)
    config = tmp_path / "leaky.json"
    config.write_text(json.dumps(tiny(aux=("tapt",), max_steps=3) | {"end_task": {
        **tiny()["end_task"], "select_on": "dev_unseen"}}))
    out = tmp_path / "run"
    result = invoke("run", str(config), "-s", str(out), "--device", "cpu", "--quiet")
    assert result.exit_code == 0, result.output
    warnings = [r.getMessage() for r in caplog.records if "is in train" in r.getMessage()]
    assert warnings == ["tiny: the text of dev 3 of 12 rows (25%; 3 with the same label) and test 5 of 12 rows "
                        "(42%; 5 with the same label) is in train, so scores on them reward memorising train; "
                        "metrics.json adds dev_unseen and test_unseen, on the other rows (tartan-fw data check "
                        "tells more)"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train_overlap"]["test"] == {"rows": 12, "in_train": 5, "same_label": 5, "unseen": 7}
    assert set(metrics["test_unseen"]) == set(metrics["dev_unseen"]) == {"micro_f1", "macro_f1", "accuracy"}
    assert metrics["selected_on"] == "dev_unseen"
    assert {"dev_unseen", "test_unseen"} <= set(metrics["majority_baseline"])
    assert "on the rows whose text is not in train: dev macro_f1" in (out / "log.txt").read_text()

    evaluated = invoke("evaluate", str(out), "--split", "test", "--device", "cpu")
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads(evaluated.output[evaluated.output.index("{"):])
    assert report["macro_f1"] == pytest.approx(metrics["test"]["macro_f1"])
    assert report["test_unseen"]["rows"] == 7 and report["test_unseen"]["of"] == 12
    assert report["test_unseen"]["macro_f1"] == pytest.approx(metrics["test_unseen"]["macro_f1"])


def test_selecting_on_unseen_dev_rows_needs_some(tmp_path: Path, tiny) -> None:
    run_task(tmp_path / "data", dev_in_train=12, test_in_train=0)
    config = tmp_path / "all_leaked.json"
    config.write_text(json.dumps(tiny(aux=()) | {"end_task": {**tiny()["end_task"], "select_on": "dev_unseen"}}))
    result = invoke("run", str(config), "-s", str(tmp_path / "run"), "--device", "cpu", "--quiet")
    assert result.exit_code == 2
    assert "dev.jsonl: the text of every dev row is in train" in result.output
    assert "set end_task.select_on: 'dev'" in result.output


# The table (issue 24), counted on the public release.
REAL_COUNTS = {  # task: (test in train, of test, same label), dev in train, duplicates within train
    "citation_intent": ((52, 139, 47), 43, 418),
    "hyperpartisan": ((51, 65, 51), 0, 2),
    "chemprot": ((4, 3469, 4), 0, 25),
    "sciie": ((0, 974, 0), 0, 4),
}


@needs_real_data
@pytest.mark.parametrize("task", sorted(REAL_COUNTS))
def test_the_paper_tasks_counts(task: str) -> None:
    (test_in_train, test_rows, same_label), dev_in_train, duplicates = REAL_COUNTS[task]
    parts = {part.name: part for part in check(task_folder_target(task, DataRoot(REAL_DATA))).parts}
    assert parts["train"].duplicates == duplicates
    assert (parts["test"].overlap["in_train"], parts["test"].rows, parts["test"].overlap["same_label"]) == (
        test_in_train, test_rows, same_label)
    assert parts["dev"].overlap["in_train"] == dev_in_train
    assert parts["TAPT corpus"].holds["test"] == test_in_train  # train.txt is train's text
    assert parts["dev"].unseen_labels == parts["test"].unseen_labels == []


def test_metrics_from_before_the_overlap_load_and_summarise(tmp_path: Path) -> None:
    from tartan_fw.analysis.summary import summary_lines
    from tartan_fw.training.results import RunMetrics

    older = {"metric": "macro_f1", "best_dev": {"macro_f1": 0.5}, "best_step": 3, "test": {"macro_f1": 0.4},
             "steps": 6, "wall_time_s": 1.0, "tokens": {}, "stages": []}
    metrics = RunMetrics.from_dict(older)
    assert (metrics.train_overlap, metrics.test_unseen, metrics.selected_on) == ({}, {}, "dev")
    assert len(summary_lines(tmp_path, older)) == 1
    leaky = {**older, "train_overlap": {"dev": {"rows": 4, "in_train": 0, "same_label": 0, "unseen": 4},
                                        "test": {"rows": 4, "in_train": 4, "same_label": 4, "unseen": 0}},
             "dev_unseen": {"macro_f1": 0.25}, "test_unseen": {}}
    assert summary_lines(tmp_path, leaky)[1] == ("on the rows whose text is not in train: dev macro_f1 0.2500 "
                                                  "(4 of 4 rows), test: no such rows")
