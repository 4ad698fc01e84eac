"""docs/tutorials/own-data.md runs as written: a task from a folder of JSON lines (no train.txt), one config
block, validate, epoch-based runs, compare with the majority-class row, data check; and its error paths."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from conftest import invoke, write_tiny_task


REPO = Path(__file__).resolve().parents[1]
TUTORIAL = (REPO / "docs" / "tutorials" / "own-data.md").read_text()
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)
# What the test adds to every `run`: a tiny scratch encoder, so the tutorial's commands take seconds.
SMALL = ["--ext-var", "model=scratch", "--device", "cpu", "-o", "body.hidden_size=32", "-o", "body.num_layers=1",
         "-o", "body.intermediate_size=64", "-o", "body.vocab_size=120", "-o", "body.max_length=32",
         "-o", "trainer.eval_every=2", "-o", "trainer.log_every=1", "-o", "end_task.eval_batch_size=16"]


def tutorial_files() -> dict[str, str]:
    """Code blocks whose first line is ``// experiments/<file>``."""
    files = {}
    for _, code in BLOCK.findall(TUTORIAL):
        first, _, rest = code.partition("\n")
        match = re.fullmatch(r"// (experiments/\S+)", first.strip())
        if match:
            files[match.group(1)] = code
    return files


def tutorial_commands() -> list[list[str]]:
    return [shlex.split(line)[1:] for language, code in BLOCK.findall(TUTORIAL) if language == "bash"
            for line in code.splitlines() if line.startswith("tartan-fw ")]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's own project folder, outside the repository, holding the tutorial's files only (the
    shipped Jsonnet library comes with the package), and a data root holding my_citations with
    train/dev/test.jsonl only (one training text has a newline)."""
    folder = tmp_path / "project"
    for path, code in tutorial_files().items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(code)
    root = tmp_path / "data"
    task = write_tiny_task(root, "my_citations", sizes=(30, 33, 9))  # META keeps 16 + 16 dev examples
    (task / "train.txt").unlink()
    (task / "domain.1xTAPT.txt").unlink()
    lines = (task / "train.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    lines[0] = json.dumps({**first, "text": first["text"].replace(" ", "\n", 1)})
    (task / "train.jsonl").write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("TARTAN_DATA", str(root))
    monkeypatch.chdir(folder)
    return folder


def test_the_tutorial_runs_as_written(project: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert set(tutorial_files()) == {"experiments/my_citations.jsonnet", "experiments/my_citations_meta.jsonnet"}
    commands = tutorial_commands()
    assert [c[0] for c in commands] == ["validate", "validate", "data", "run", "run", "run", "compare", "data", "data"]
    corpus = project.parent / "data" / "my_citations" / "train.txt"
    outputs, notices = [], []
    for arguments in commands:
        caplog.clear()
        result = invoke(*arguments, *(SMALL if arguments[0] == "run" else []))
        assert result.exit_code == 0, (arguments, result.output)
        outputs.append(result.output)
        notices.append([r.getMessage() for r in caplog.records if r.name == "tartan_fw.data.root"])
        if arguments[0] == "validate":
            assert result.output.strip().endswith(": ok") and not corpus.exists()  # derivable, not yet derived
    notice = "train.txt: derived from train.jsonl (the TAPT corpus: 30 texts, one per line; 1 had newlines"
    assert [len(n) for n in notices] == [0, 0, 1, 0, 0, 0, 0, 0, 0] and notice in notices[2][0]  # one line, by data fetch
    folder = project.parent / "data" / "my_citations"
    assert outputs[2].splitlines() == [
        f"end_task: {folder / 'train.jsonl'} present, 30 examples",
        f"end_task: {folder / 'dev.jsonl'} present, 33 examples",
        f"end_task: {folder / 'test.jsonl'} present, 9 examples",
        f"aux_tasks[0] (tapt): {folder / 'train.txt'} derived from train.jsonl, 30 examples",
    ]
    texts = corpus.read_text().splitlines()
    assert len(texts) == 30 and all(text.strip() for text in texts)  # the newline was folded

    mt = json.loads((project / "runs" / "my_citations" / "mt" / "metrics.json").read_text())
    # ceil(3 epochs x 30 examples / 16) multitask steps, then the end-task alone for a third as many epochs.
    assert [(stage["name"], stage["steps"]) for stage in mt["stages"]] == [("multitask", 6), ("finetune", 2)]
    assert [task for task in mt["tokens"]] == ["multitask/my_citations", "multitask/tapt", "finetune/my_citations"]
    finetune = json.loads((project / "runs" / "my_citations" / "finetune" / "metrics.json").read_text())
    assert list(finetune["tokens"]) == ["multitask/my_citations"]
    meta = json.loads((project / "runs" / "my_citations" / "meta" / "config.json").read_text())
    assert meta["weighter"]["type"] == "meta"
    assert mt["majority_baseline"]["test"]["label"] == "background"
    assert "majority class ('background')" in outputs[6]
    assert "my_citations: texts compared whitespace-normalised and lower-cased" in outputs[7]
    assert "truncated: rows longer than max_length 64 tokens" in " ".join(outputs[7].split())
    [report] = json.loads(outputs[8])
    assert [part["name"] for part in report["parts"]] == ["train", "dev", "test", "TAPT corpus"]
    assert report["parts"][3]["holds"] == {"dev": 0, "test": 0}


def test_validate_names_a_missing_split_and_what_to_do(project: Path) -> None:
    (project.parent / "data" / "my_citations" / "dev.jsonl").unlink()
    result = invoke("validate", "experiments/my_citations.jsonnet")
    assert result.exit_code == 2
    line = result.output.strip()
    assert "\n" not in line and line.startswith("error: experiments/my_citations.jsonnet: end_task: ")
    assert "my_citations/dev.jsonl: data file not found" in line


def test_validate_says_train_txt_cannot_be_derived_without_train_jsonl(project: Path) -> None:
    (project.parent / "data" / "my_citations" / "train.jsonl").unlink()
    result = invoke("validate", "experiments/my_citations.jsonnet")
    assert result.exit_code == 2
    assert "aux_tasks[0] (tapt): " in result.output and "it is derived from" in result.output


def test_a_task_block_missing_its_metric_names_the_users_file(project: Path) -> None:
    path = project / "experiments" / "my_citations.jsonnet"
    path.write_text(path.read_text().replace(", metric: 'macro_f1'", ""))
    result = invoke("validate", "experiments/my_citations.jsonnet")
    assert result.exit_code == 2
    assert result.output.startswith("error: experiments/my_citations.jsonnet: task: missing 'metric'"), result.output
