"""Dataset readers: parsing, label strings, and reproducible subsampling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tartan_fw.common.from_config import build
from tartan_fw.data.readers import DatasetReader, JsonlClassificationReader, TextLinesReader
from tartan_fw.errors import ConfigurationError, DataError


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def numbered(path: Path, count: int) -> Path:
    return write_jsonl(path, [{"text": f"text {i}", "label": i % 3} for i in range(count)])


def test_jsonl_reads_text_and_stringified_labels_ignoring_extra_keys(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text(
        json.dumps({"text": "a b", "label": "true", "id": 7, "metadata": {"x": 1}}) + "\n"
        "\n"
        "   \n"
        + json.dumps({"label": 3, "text": "c"}) + "\n"
        + json.dumps({"text": "d", "label": False}) + "\n"
    )
    examples = JsonlClassificationReader().read(path)
    assert [(e.text, e.label, e.line) for e in examples] == [("a b", "true", 1), ("c", "3", 4), ("d", "False", 5)]


def test_text_lines_skips_blank_lines_and_strips(tmp_path: Path) -> None:
    path = tmp_path / "corpus.txt"
    path.write_text("first line \n\n  \nsecond\n\nthird")
    examples = TextLinesReader().read(path)
    assert [(e.text, e.label, e.line) for e in examples] == [("first line", None, 1), ("second", None, 4), ("third", None, 6)]


@pytest.mark.parametrize("reader_type", ["jsonl_classification", "text_lines"])
def test_registered_under_their_config_names(reader_type: str) -> None:
    reader = build(DatasetReader, {"type": reader_type, "max_examples": 2})
    assert DatasetReader.registered_name(type(reader)) == reader_type and reader.max_examples == 2


def test_max_examples_is_a_reproducible_subset_in_file_order(tmp_path: Path) -> None:
    path = numbered(tmp_path / "train.jsonl", 50)
    first = JsonlClassificationReader(max_examples=10, sample_seed=1).read(path)
    again = JsonlClassificationReader(max_examples=10, sample_seed=1).read(path)
    other = JsonlClassificationReader(max_examples=10, sample_seed=2).read(path)
    assert first == again and len(first) == 10
    assert [e.text for e in first] != [e.text for e in other]
    assert [e.line for e in first] == sorted(e.line for e in first)
    assert [e.text for e in first] != [f"text {i}" for i in range(10)]  # a sample, not the head of the file


def test_fraction_keeps_a_rounded_share_at_least_one(tmp_path: Path) -> None:
    path = numbered(tmp_path / "train.jsonl", 50)
    assert len(JsonlClassificationReader(fraction=0.3).read(path)) == 15
    assert len(JsonlClassificationReader(fraction=0.001).read(path)) == 1
    assert len(JsonlClassificationReader(fraction=1.0).read(path)) == 50
    assert len(JsonlClassificationReader(fraction=0.5, max_examples=4).read(path)) == 4
    same = TextLinesReader(fraction=0.5, sample_seed=3)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(f"line {i}" for i in range(40)))
    assert same.read(corpus) == TextLinesReader(fraction=0.5, sample_seed=3).read(corpus)
    assert same.read(corpus) != TextLinesReader(fraction=0.5, sample_seed=4).read(corpus)


def test_subsample_false_keeps_everything_and_cache_key_reflects_settings(tmp_path: Path) -> None:
    path = numbered(tmp_path / "dev.jsonl", 20)
    assert len(JsonlClassificationReader(max_examples=3).read(path, subsample=False)) == 20
    keys = {JsonlClassificationReader(max_examples=3, sample_seed=s).cache_key() for s in (0, 1)}
    keys.add(JsonlClassificationReader(fraction=0.5).cache_key())
    keys.add(TextLinesReader(max_examples=3).cache_key())
    assert len(keys) == 4


@pytest.mark.parametrize(
    "config, message",
    [
        ({"max_examples": 0}, "<top level>: max_examples must be at least 1, got 0"),
        ({"fraction": 0}, "<top level>: fraction must be in (0, 1], got 0.0"),
        ({"fraction": 1.5}, "<top level>: fraction must be in (0, 1], got 1.5"),
    ],
)
def test_bad_subsample_settings(config: dict, message: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        build(DatasetReader, {"type": "text_lines", **config})
    assert err.value.problems == [message]


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"text": "a", "label": "x"}\n{"text": "b", "label": \n', ":2: malformed JSON"),
        ('{"text": "a"}\n', ":1: missing 'label' field"),
        ('\n{"label": "x"}\n', ":2: missing 'text' field"),
        ('["a", "x"]\n', ":1: expected a JSON object with 'text' and 'label'"),
        ('{"text": 3, "label": "x"}\n', ":1: 'text' must be a string"),
        ("\n\n", ": the file holds no examples"),
        ("", ": the file holds no examples"),
    ],
)
def test_bad_jsonl_names_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text(content)
    with pytest.raises(DataError) as err:
        JsonlClassificationReader().read(path)
    assert str(err.value).startswith(f"{path}{message}")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="data file not found"):
        TextLinesReader().read(tmp_path / "absent.txt")
