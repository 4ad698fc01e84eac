"""Dataset readers: every source (JSON lines, text, CSV/TSV, Parquet, a saved folder, a hub dataset),
label strings, errors naming file and line, and reproducible subsampling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tartan_fw.common.from_config import build, validate
from tartan_fw.data.readers import (
    CsvReader, DatasetReader, HubReader, JsonlClassificationReader, ParquetReader, SavedDatasetReader, TextLinesReader,
)
from tartan_fw.data.root import DataRoot
from tartan_fw.errors import DataError


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def numbered(path: Path, count: int) -> Path:
    return write_jsonl(path, [{"text": f"text {i}", "label": i % 3} for i in range(count)])


def rows(reader: DatasetReader, path: Path, labelled: bool = True, subsample: bool = True) -> list[tuple]:
    """(text, label, line) of every example ``reader`` reads from ``path``."""
    examples = reader.read(DataRoot(path.parent), path.name, labelled=labelled, subsample=subsample)
    columns = examples.dataset.to_dict()
    return list(zip(columns["text"], columns.get("label", [None] * len(examples)), columns["line"]))


def test_jsonl_reads_text_and_stringified_labels_ignoring_extra_keys(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text(
        json.dumps({"text": "a b", "label": 1, "id": 7, "metadata": {"x": 1}}) + "\n"
        "\n"
        "   \n"
        + json.dumps({"label": 3, "text": "c"}) + "\n"
        + json.dumps({"text": "d", "label": 0}) + "\n"
    )
    assert rows(JsonlClassificationReader(), path) == [("a b", "1", 1), ("c", "3", 4), ("d", "0", 5)]
    path.write_text(json.dumps({"text": "e", "label": True}) + "\n" + json.dumps({"text": "f", "label": False}) + "\n")
    assert rows(JsonlClassificationReader(), path) == [("e", "True", 1), ("f", "False", 2)]


def test_jsonl_columns_are_configurable_and_labels_optional_for_corpora(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "train.jsonl", [{"sentence": "x y", "intent": "ask"}, {"sentence": "z"}])
    reader = JsonlClassificationReader(text_column="sentence", label_column="intent")
    assert rows(reader, path, labelled=False) == [("x y", None, 1), ("z", None, 2)]
    with pytest.raises(DataError, match=f"^{path}:2: missing 'intent' field"):
        rows(reader, path)


def test_text_lines_skips_blank_lines_and_strips(tmp_path: Path) -> None:
    path = tmp_path / "corpus.txt"
    path.write_text("first line \n\n  \nsecond\n\nthird")
    assert rows(TextLinesReader(), path, labelled=False) == [("first line", None, 1), ("second", None, 4), ("third", None, 6)]


@pytest.mark.parametrize("reader_type", ["jsonl_classification", "text_lines", "csv", "parquet", "saved"])
def test_registered_under_their_config_names(reader_type: str) -> None:
    reader = build(DatasetReader, {"type": reader_type, "max_examples": 2})
    assert DatasetReader.registered_name(type(reader)) == reader_type and reader.max_examples == 2


def test_max_examples_is_a_reproducible_subset_in_file_order(tmp_path: Path) -> None:
    path = numbered(tmp_path / "train.jsonl", 50)
    first = rows(JsonlClassificationReader(max_examples=10, sample_seed=1), path)
    again = rows(JsonlClassificationReader(max_examples=10, sample_seed=1), path)
    other = rows(JsonlClassificationReader(max_examples=10, sample_seed=2), path)
    assert first == again and len(first) == 10
    assert first != other
    assert [line for *_, line in first] == sorted(line for *_, line in first)
    assert [text for text, *_ in first] != [f"text {i}" for i in range(10)]  # a sample, not the head of the file


def test_fraction_keeps_a_rounded_share_at_least_one(tmp_path: Path) -> None:
    path = numbered(tmp_path / "train.jsonl", 50)
    assert len(rows(JsonlClassificationReader(fraction=0.3), path)) == 15
    assert len(rows(JsonlClassificationReader(fraction=0.001), path)) == 1
    assert len(rows(JsonlClassificationReader(fraction=1.0), path)) == 50
    assert len(rows(JsonlClassificationReader(fraction=0.5, max_examples=4), path)) == 4
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(f"line {i}" for i in range(40)))
    same = rows(TextLinesReader(fraction=0.5, sample_seed=3), corpus, labelled=False)
    assert same == rows(TextLinesReader(fraction=0.5, sample_seed=3), corpus, labelled=False)
    assert same != rows(TextLinesReader(fraction=0.5, sample_seed=4), corpus, labelled=False)


def test_subsample_false_keeps_everything_and_settings_reflect_the_reader(tmp_path: Path) -> None:
    path = numbered(tmp_path / "dev.jsonl", 20)
    assert len(rows(JsonlClassificationReader(max_examples=3), path, subsample=False)) == 20
    # Subsampling is applied after the cached table, so it is not among the settings that shape the table.
    assert JsonlClassificationReader(max_examples=3).settings() == JsonlClassificationReader(fraction=0.5).settings()
    settings = [JsonlClassificationReader().settings(), JsonlClassificationReader(text_column="t").settings(),
                TextLinesReader().settings(), CsvReader(delimiter=";").settings(), CsvReader().settings()]
    assert len({json.dumps(s, sort_keys=True) for s in settings}) == 5


@pytest.mark.parametrize(
    "config, message",
    [
        ({"max_examples": 0}, "max_examples: must be at least 1, got 0"),
        ({"fraction": 0}, "fraction: must be in (0, 1], got 0.0"),
        ({"fraction": 1.5}, "fraction: must be in (0, 1], got 1.5"),
    ],
)
@pytest.mark.parametrize("reader", ["text_lines", "jsonl_classification", "csv", "parquet", "saved", "hub"])
def test_bad_subsample_settings_of_every_reader(reader: str, config: dict, message: str) -> None:
    """Declared once on ``DatasetReader``; every reader inherits them through ``**kwargs``."""
    extra = {"path": "x"} if reader == "hub" else {}
    assert validate(DatasetReader, {"type": reader, **extra, **config}) == [message]


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"text": "a", "label": "x"}\n{"text": "b", "label": \n', ":2: malformed JSON"),
        ('{"text": "a"}\n', ":1: missing 'label' field"),
        ('\n{"label": "x"}\n', ":2: missing 'text' field"),
        ('["a", "x"]\n', ":1: expected a JSON object with 'text' and 'label'"),
        ('{"text": 3, "label": "x"}\n', ":1: 'text' must be a string"),
        ('{"text": "a", "label": "x"}\n{"text": "b", "label": null}\n', ":2: 'label' is null; give the line a label"),
        ("\n\n", ": the file holds no examples"),
        ("", ": the file holds no examples"),
    ],
)
def test_bad_jsonl_names_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text(content)
    with pytest.raises(DataError) as err:
        rows(JsonlClassificationReader(), path)
    assert str(err.value).startswith(f"{path}{message}")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="data file not found"):
        rows(TextLinesReader(), tmp_path / "absent.txt", labelled=False)


def test_text_lines_gives_no_labels(tmp_path: Path) -> None:
    path = tmp_path / "train.txt"
    path.write_text("a\n")
    with pytest.raises(DataError, match="text_lines reads unlabelled text"):
        rows(TextLinesReader(), path)


def test_a_byte_order_mark_is_no_part_of_the_first_line(tmp_path: Path) -> None:
    """Excel saves CSV with a BOM, which read as text made the header's first column '\\ufefftext'."""
    csv = tmp_path / "train.csv"
    csv.write_text("\ufefftext,label\na b,x\n", encoding="utf-8")
    assert rows(CsvReader(), csv) == [("a b", "x", 2)]
    jsonl = tmp_path / "train.jsonl"
    jsonl.write_text("\ufeff" + json.dumps({"text": "c", "label": "y"}) + "\n", encoding="utf-8")
    assert rows(JsonlClassificationReader(), jsonl) == [("c", "y", 1)]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\ufefffirst\n", encoding="utf-8")
    assert rows(TextLinesReader(), corpus, labelled=False) == [("first", None, 1)]


def test_csv_and_tsv_with_configurable_columns_and_quoted_newlines(tmp_path: Path) -> None:
    csv = tmp_path / "train.csv"
    csv.write_text('id,sentence,intent\n1,"hello, world",greet\n\n2,"two\nlines",ask\n3,plain,7\n')
    reader = CsvReader(text_column="sentence", label_column="intent")
    assert rows(reader, csv) == [("hello, world", "greet", 2), ("two\nlines", "ask", 4), ("plain", "7", 6)]
    tsv = tmp_path / "train.tsv"
    tsv.write_text("text\tlabel\na, b\tx\n")
    assert rows(CsvReader(), tsv) == [("a, b", "x", 2)]
    assert CsvReader().default_file("dev") == "dev.csv" and CsvReader(delimiter="\t").default_file("dev") == "dev.tsv"


@pytest.mark.parametrize(
    "content, message",
    [
        ("sentence,label\na,x\n", ":1: no column 'text' in the header (sentence, label)"),
        ("text,label\na,x\nb,y,z\n", ":3: 3 fields where the header has 2"),
        ("text,label\na,x\nb,\n", ":3: empty 'label'; give the row a label"),
        ('text,label\na,x\n"b"c,y\n', ":3: malformed CSV"),
        ("text,label\n", ": the file holds no examples"),
    ],
)
def test_bad_csv_names_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "train.csv"
    path.write_text(content)
    with pytest.raises(DataError) as err:
        rows(CsvReader(), path)
    assert str(err.value).startswith(f"{path}{message}")


def test_parquet_rows_and_null_labels(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "train.parquet"
    pq.write_table(pa.table({"body": ["a", "b", "c"], "y": [1, 0, 1]}), path)
    assert rows(ParquetReader(text_column="body", label_column="y"), path) == [("a", "1", 0), ("b", "0", 1), ("c", "1", 2)]
    pq.write_table(pa.table({"text": ["a", "b"], "label": ["x", None]}), path)
    with pytest.raises(DataError, match=f"^{path}, row 1: 'label' is null"):
        rows(ParquetReader(), path)
    with pytest.raises(DataError, match=f"^{path}: no column 'body' \\(columns: text, label\\)"):
        rows(ParquetReader(text_column="body"), path)
    path.write_text("not parquet")
    with pytest.raises(DataError, match=f"^{path}: not a readable Parquet file"):
        rows(ParquetReader(), path)


def test_saved_dataset_folder_and_class_label_names(tmp_path: Path) -> None:
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    features = Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
    splits = DatasetDict({"train": Dataset.from_dict({"text": ["a", "b", "c"], "label": [1, 0, 1]}, features=features),
                          "validation": Dataset.from_dict({"text": ["d"], "label": [-1]}, features=features)})
    splits.save_to_disk(str(tmp_path / "mytask"))
    reader = SavedDatasetReader()
    examples = reader.read(DataRoot(tmp_path), reader.default_file("train"), "mytask", labelled=True)
    assert examples.dataset.to_dict() == {"text": ["a", "b", "c"], "line": [0, 1, 2], "label": ["pos", "neg", "pos"]}
    assert examples.at(2) == f"{tmp_path / 'mytask' / 'train'}, row 2"
    with pytest.raises(DataError, match=r"mytask/validation, row 0: 'label' is missing"):
        reader.read(DataRoot(tmp_path), reader.default_file("dev"), "mytask", labelled=True)
    with pytest.raises(DataError, match="a saved DatasetDict; name one of its splits' folders"):
        reader.read(DataRoot(tmp_path), "mytask", labelled=True)
    assert reader.read(DataRoot(tmp_path), "validation", "mytask").dataset["text"] == ["d"]  # a corpus needs no label


def hub_folder(root: Path) -> Path:
    """A dataset folder as a hub repository holds one: a CSV per split, which ``load_dataset`` finds by name."""
    folder = root / "hub_repo"
    folder.mkdir()
    (folder / "train.csv").write_text("sentence,intent\n" + "".join(f"s{i},{'ab'[i % 2]}\n" for i in range(6)))
    (folder / "test.csv").write_text("sentence,intent\nt0,a\nt1,b\n")
    return folder


def test_hub_reader_loads_splits_through_load_dataset(tmp_path: Path) -> None:
    reader = HubReader(path=str(hub_folder(tmp_path)), text_column="sentence", label_column="intent")
    train = reader.read(DataRoot(tmp_path), "train[:4]", labelled=True)
    assert train.dataset.to_dict() == {"text": ["s0", "s1", "s2", "s3"], "line": [0, 1, 2, 3], "label": list("abab")}
    assert train.origin == f"{tmp_path / 'hub_repo'} split 'train[:4]'"
    assert reader.default_file("dev") == "validation"
    with pytest.raises(DataError, match=r"split 'validation': cannot load the dataset \(.*\); check the reader's path"):
        reader.read(DataRoot(tmp_path), "validation", labelled=True)


def test_hub_reader_asks_load_dataset_for_name_config_revision_and_split(tmp_path: Path, monkeypatch) -> None:
    import datasets

    calls = []

    def fake_load_dataset(path, name=None, **kwargs):
        calls.append((path, name, kwargs))
        return datasets.Dataset.from_dict({"text": ["x", "y"], "label": [0, 1]})

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    reader = HubReader(path="someone/topics", name="en", revision="v1.0")
    examples = reader.read(DataRoot(tmp_path), "test", labelled=True)
    assert examples.dataset["label"] == ["0", "1"]
    [(path, name, kwargs)] = calls
    assert (path, name, kwargs["split"], kwargs["revision"]) == ("someone/topics", "en", "test", "v1.0")
    assert Path(kwargs["cache_dir"]).is_relative_to(Path(__import__("os").environ["TARTAN_CACHE"]))


def test_hub_reader_offline_is_one_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError) as err:
        HubReader(path="no-such-user/no-such-dataset-xyz").read(DataRoot(tmp_path), "train", labelled=True)
    message = str(err.value)
    assert message.startswith("no-such-user/no-such-dataset-xyz split 'train': cannot load the dataset (")
    assert "offline?" in message and "\n" not in message
