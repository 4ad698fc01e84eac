"""Tokenisation on ``datasets``: the ids the tokenizer gives, cached as Arrow under ``$TARTAN_CACHE`` by a
fingerprint of content, reader settings, tokenizer and max length, memory-mapped, and rebuilt when corrupt."""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path

import pytest
import torch

from tartan_fw.data import tokenization
from tartan_fw.data.readers import JsonlClassificationReader, TextLinesReader
from tartan_fw.data.root import DataRoot
from tartan_fw.data.tokenization import TokenizedTexts, processes, tokenize
from tartan_fw.models.bodies.scratch import ScratchBody, wordpiece_tokenizer


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch) -> Path:
    """A cache of the test's own, so what it finds there (and damages) is its own."""
    monkeypatch.setenv("TARTAN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def scratch_body(data_root: Path, vocab_size: int = 120, max_length: int = 16) -> ScratchBody:
    return ScratchBody(data_root=DataRoot(data_root), tokenizer_corpora=["tiny/train.txt"], vocab_size=vocab_size,
                       hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_length=max_length)


def corpus(data_root: Path, lines: int = 300) -> Path:
    path = data_root / "tiny" / "corpus.txt"
    path.write_text("".join(f"we use the model {i} and it improves accuracy {i % 7}\n" for i in range(lines)))
    return path


def read_and_tokenize(data_root: Path, body: ScratchBody, reader=None) -> TokenizedTexts:
    return tokenize((reader or TextLinesReader()).read(DataRoot(data_root), "tiny/corpus.txt"), body)


def test_ids_are_the_tokenizers_own_truncated_to_max_length(data_root: Path) -> None:
    path = corpus(data_root)
    body = scratch_body(data_root, max_length=12)
    texts = read_and_tokenize(data_root, body)
    expected = body.tokenizer(path.read_text().splitlines(), truncation=True, max_length=12)["input_ids"]
    assert len(texts) == len(expected)
    assert [texts[i].tolist() for i in range(len(texts))] == expected
    assert texts.lengths().tolist() == [len(e) for e in expected]
    assert [t.tolist() for t in texts.take(torch.tensor([5, 0, 5]))] == [expected[5], expected[0], expected[5]]
    counts = torch.zeros(len(body.tokenizer), dtype=torch.long)
    for ids in expected:
        counts += torch.bincount(torch.tensor(ids), minlength=len(body.tokenizer))
    assert torch.equal(texts.token_counts(len(body.tokenizer)), counts)


def test_cached_run_reads_and_tokenises_nothing_and_is_memory_mapped(data_root: Path, monkeypatch) -> None:
    import pyarrow as pa

    corpus(data_root, lines=3000)
    body = scratch_body(data_root)
    first = read_and_tokenize(data_root, body)

    def fail(*args, **kwargs):
        raise AssertionError("the cache should have served this")

    monkeypatch.setattr(TextLinesReader, "rows", fail)
    monkeypatch.setattr(tokenization, "_encode", fail)
    allocated = pa.total_allocated_bytes()
    again = read_and_tokenize(data_root, body)
    assert pa.total_allocated_bytes() - allocated < 64 * 1024  # the ids (about 200 kB) stay in the mapped file
    assert [again[i].tolist() for i in (0, 1234, 2999)] == [first[i].tolist() for i in (0, 1234, 2999)]


def test_everything_is_cached_under_tartan_cache_and_nothing_beside_the_data(data_root: Path) -> None:
    corpus(data_root)
    before = sorted(p.name for p in (data_root / "tiny").iterdir())
    examples = TextLinesReader().read(DataRoot(data_root), "tiny/corpus.txt")
    cache = Path(os.environ["TARTAN_CACHE"])
    assert all(Path(f["filename"]).is_relative_to(cache) for f in examples.dataset.cache_files)
    tokenize(examples, scratch_body(data_root))
    assert sorted(p.name for p in (data_root / "tiny").iterdir()) == before


def test_fingerprint_covers_content_reader_settings_tokenizer_and_max_length(data_root: Path) -> None:
    path = corpus(data_root)
    body = scratch_body(data_root)
    first = read_and_tokenize(data_root, body)
    # The same size and modification time, other bytes: datasets' own check of local files would miss it.
    stat = path.stat()
    path.write_text(path.read_text().replace("we use the model 1 ", "we use and model 1 "))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size
    changed = read_and_tokenize(data_root, body)
    assert changed[1].tolist() != first[1].tolist() and changed[0].tolist() == first[0].tolist()

    labelled = data_root / "tiny" / "train.jsonl"
    plain = JsonlClassificationReader().read(DataRoot(data_root), labelled.name, "tiny")
    renamed = JsonlClassificationReader(text_column="label").read(DataRoot(data_root), labelled.name, "tiny")
    assert plain.dataset["text"] != renamed.dataset["text"]

    other_vocab = read_and_tokenize(data_root, scratch_body(data_root, vocab_size=100))
    shorter = read_and_tokenize(data_root, scratch_body(data_root, max_length=8))
    assert [other_vocab[i].tolist() for i in range(5)] != [changed[i].tolist() for i in range(5)]
    assert int(shorter.lengths().max()) == 8 < int(changed.lengths().max())


def test_tokenizer_fingerprint_ignores_the_truncation_state_calls_leave(data_root: Path) -> None:
    body = scratch_body(data_root)
    before = body.fingerprint()
    body.tokenizer(["we use the model"], truncation=True, max_length=5)
    assert body.fingerprint() == before


def test_processes_follow_the_thread_budget_and_stay_one_for_small_data(monkeypatch) -> None:
    monkeypatch.setattr(torch, "get_num_threads", lambda: 4)
    assert processes(500) == 1 and processes(30_000) == 1 and processes(100_000) == 4
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert processes(1_000_000) == 1


def test_several_processes_tokenise_exactly_as_one(data_root: Path, monkeypatch) -> None:
    corpus(data_root, lines=400)
    body = scratch_body(data_root)
    single = read_and_tokenize(data_root, body)
    monkeypatch.setattr(tokenization, "processes", lambda rows: 2)
    monkeypatch.setenv("TARTAN_CACHE", os.environ["TARTAN_CACHE"] + "-two-processes")  # not the single run's table
    double = read_and_tokenize(data_root, body)
    assert [double[i].tolist() for i in range(len(double))] == [single[i].tolist() for i in range(len(single))]


def test_the_tokenizer_trains_byte_identical_in_any_cache_with_or_without_threads(tmp_path: Path, monkeypatch) -> None:
    """The trainer counts words in hash maps seeded at random for each map; the file must not depend on that.
    Random words from one alphabet give many pairs of equal frequency, so a tie broken by hash order shows."""
    rng = random.Random(0)
    words = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 7))) for _ in range(300)]
    text = tmp_path / "corpus.txt"
    text.write_text("".join(" ".join(rng.choices(words, k=12)) + "\n" for _ in range(400)))
    trained = []
    for cache, parallel in (("one", "true"), ("two", "false")):
        monkeypatch.setenv("TARTAN_CACHE", str(tmp_path / cache))
        monkeypatch.setenv("TOKENIZERS_PARALLELISM", parallel)
        wordpiece_tokenizer([text], vocab_size=400)
        [file] = (tmp_path / cache / "tokenizers").rglob("tokenizer.json")
        trained.append(file.read_bytes())
    assert trained[0] == trained[1]


def truncate(path: Path, size: int) -> None:
    with path.open("r+b") as handle:
        handle.truncate(size)


def drop_last_row(path: Path) -> None:
    """Rewrite an Arrow stream file without its last row, as a file cut at a record-batch boundary reads."""
    import pyarrow as pa

    table = pa.ipc.open_stream(pa.BufferReader(path.read_bytes())).read_all()
    table = table.slice(0, len(table) - 1)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)


@pytest.mark.parametrize("damage", [lambda p: truncate(p, 100), lambda p: truncate(p, 0), drop_last_row],
                         ids=["truncated", "empty", "short"])
def test_a_corrupt_read_or_tokenised_table_is_rebuilt_with_one_line(data_root: Path, caplog, damage) -> None:
    corpus(data_root)
    body = scratch_body(data_root)
    expected = [t.tolist() for t in read_and_tokenize(data_root, body).take(range(300))]
    examples = TextLinesReader().read(DataRoot(data_root), "tiny/corpus.txt")
    [tokenized] = (Path(os.environ["TARTAN_CACHE"]) / "datasets" / "tokenized").glob("*.arrow")
    for path in (Path(examples.dataset.cache_files[0]["filename"]), tokenized):
        damage(path)
    with caplog.at_level(logging.WARNING, logger="tartan_fw"):
        healed = read_and_tokenize(data_root, body)
    assert [t.tolist() for t in healed.take(range(300))] == expected
    warnings = [r.getMessage() for r in caplog.records if "corrupt cache entry" in r.getMessage()]
    assert len(warnings) == 2 and all(w.endswith("rebuilding it") and "\n" not in w for w in warnings)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tartan_fw"):
        read_and_tokenize(data_root, body)
    assert not caplog.records  # healed for good


def test_a_corrupt_tokenizer_cache_is_retrained_with_one_line(data_root: Path, caplog) -> None:
    body = scratch_body(data_root)
    [cached] = (Path(os.environ["TARTAN_CACHE"]) / "tokenizers").rglob("tokenizer.json")
    truncate(cached, 100)
    with caplog.at_level(logging.WARNING, logger="tartan_fw"):
        again = scratch_body(data_root)
    assert len(again.tokenizer) == len(body.tokenizer) and again.tokenizer("we use")["input_ids"][0] == 2
    assert len(scratch_body(data_root).tokenizer) == len(body.tokenizer)  # the rebuilt file loads
    [warning] = [r.getMessage() for r in caplog.records]
    assert warning.startswith(f"{cached}: corrupt cache entry (") and warning.endswith("rebuilding it")
