"""Next sentence prediction: pair construction, and the task training inside an experiment."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import torch
from click.testing import CliRunner

from tartan_fw.cli.main import cli
from tartan_fw.data.readers import TextLinesReader
from tartan_fw.data.root import DataRoot
from tartan_fw.tasks.nsp import documents, sentence_pairs

CORPUS = """Alpha one. Alpha two starts here. Alpha three, et al. 2005 agree.
Alpha four on the next line.

Beta one! Beta two?
Beta three.

Gamma one.
Gamma two. Gamma three.
"""


def read(tmp_path: Path, text: str) -> tuple[list[str], list[int]]:
    """The corpus's texts and line numbers, as the task's reader gives them."""
    path = tmp_path / "corpus.txt"
    path.write_text(text)
    dataset = TextLinesReader().read(DataRoot(tmp_path), "corpus.txt").dataset
    return list(dataset["text"]), list(dataset["line"])


def test_blank_lines_end_documents_and_lines_split_into_sentences(tmp_path: Path) -> None:
    grouped = documents(*read(tmp_path, CORPUS), split_sentences=True)
    assert grouped == [
        ["Alpha one.", "Alpha two starts here.", "Alpha three, et al. 2005 agree.", "Alpha four on the next line."],
        ["Beta one!", "Beta two?", "Beta three."],
        ["Gamma one.", "Gamma two.", "Gamma three."],
    ]
    assert documents(*read(tmp_path, CORPUS), split_sentences=False)[1] == ["Beta one! Beta two?", "Beta three."]


def test_a_line_left_out_by_subsampling_also_ends_a_document(tmp_path: Path) -> None:
    texts, lines = read(tmp_path, "a.\nb.\nc.\nd.\n")
    assert documents([texts[i] for i in (0, 1, 3)], [lines[i] for i in (0, 1, 3)], split_sentences=False) == [
        ["a.", "b."], ["d."]]


def test_pairs_are_balanced_and_no_positive_crosses_a_document(tmp_path: Path) -> None:
    grouped = documents(*read(tmp_path, CORPUS), split_sentences=True)
    document_of = {s: d for d, sentences in enumerate(grouped) for s in sentences}
    successor = {a: b for sentences in grouped for a, b in zip(sentences, sentences[1:])}
    pairs = sentence_pairs(grouped, random.Random(0))
    assert Counter(p.label for p in pairs) == {1: 7, 0: 7}
    for pair in pairs:
        if pair.label == 1:
            assert successor[pair.first] == pair.second
        else:
            assert document_of[pair.second] != document_of[pair.first]
    # Each first sentence appears once with each label.
    assert Counter((p.first, p.label) for p in pairs) == Counter({(a, label): 1 for a in successor for label in (0, 1)})


def test_a_single_document_draws_negatives_from_elsewhere_in_it() -> None:
    sentences = [f"s{i}." for i in range(6)]
    pairs = sentence_pairs([sentences], random.Random(1))
    for pair in (p for p in pairs if p.label == 0):
        first = sentences.index(pair.first)
        assert pair.second not in (sentences[first], sentences[first + 1])


def test_too_small_a_corpus_is_a_clear_error(tmp_path: Path, tiny) -> None:
    (tmp_path / "data" / "tiny" / "short.txt").write_text("Only one.\n\nAnother.\n")
    config = tiny(aux=())
    config["aux_tasks"] = [{"type": "nsp", "name": "nsp", "corpus": "tiny/short.txt"}]
    path = tmp_path / "nsp.jsonnet"
    path.write_text(json.dumps(config))
    result = CliRunner().invoke(cli, ["run", str(path), "-s", str(tmp_path / "run"), "--device", "cpu", "--quiet"])
    assert result.exit_code == 2
    assert "short.txt: next sentence prediction needs" in result.output


def test_nsp_trains_beside_masked_lm(tmp_path: Path, tiny) -> None:
    corpus = tmp_path / "data" / "tiny" / "docs.txt"
    lines = (tmp_path / "data" / "tiny" / "domain.1xTAPT.txt").read_text().splitlines()
    corpus.write_text("\n".join(line + "." if i % 5 else "\n" + line + "." for i, line in enumerate(lines)) + "\n")
    config = tiny(aux=("tapt",))
    config["aux_tasks"].append({"type": "nsp", "name": "nsp", "corpus": "tiny/docs.txt", "batch_size": 4,
                                "head": {"type": "classification", "dropout": 0.0}})
    path = tmp_path / "nsp.jsonnet"
    path.write_text(json.dumps(config))
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", str(path), "-s", str(out), "--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["tokens"]["multitask/nsp"] > 0


def test_task_batches_hold_sentence_pairs(tmp_path: Path, tiny) -> None:
    from tartan_fw.common.from_config import build
    from tartan_fw.data.root import DataRoot
    from tartan_fw.experiment import Experiment

    (tmp_path / "data" / "tiny" / "docs.txt").write_text(CORPUS)
    config = tiny(aux=())
    config["aux_tasks"] = [{"type": "nsp", "name": "nsp", "corpus": "tiny/docs.txt", "batch_size": 14}]
    experiment = build(Experiment, config)
    root = DataRoot(config["data_root"])
    body = experiment.body.construct(data_root=root)
    task = experiment.aux_tasks[0].construct(body=body, data_root=root, seed=0)
    batch = task.next_batch()
    assert sorted(batch["labels"].tolist()) == [0] * 7 + [1] * 7
    sep = body.tokenizer.sep_token_id
    assert bool((batch["input_ids"].eq(sep).sum(1) == 2).all())  # [CLS] A [SEP] B [SEP]
    loss = task.loss(body, batch).total
    loss.backward()
    assert torch.isfinite(loss) and task.head.output.weight.grad is not None
