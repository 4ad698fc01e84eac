"""``tartan-fw data fetch`` and fetching on demand, against a fake release served on 127.0.0.1."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from tartan_fw.cli.main import cli
from tartan_fw.data.root import DataRoot

RECORDS = {
    "train": [{"text": "we  use the\tmodel", "label": "Uses", "metadata": {"x": 1}},
              {"text": "prior work showed", "label": "Background"},
              {"text": "results improve", "label": "Uses"},
              {"text": "earlier studies", "label": "Background"}],
    "dev": [{"text": "we apply it", "label": "Uses"}, {"text": "known results", "label": "Background"}],
    "test": [{"text": "the model is used", "label": "Uses"}, {"text": "work before", "label": "Background"}],
}


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class TruncatingHandler(QuietHandler):
    """Promises more bytes than it sends, then hangs up: a connection lost mid-download."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(b'{"text": "half a file", "label"')
        self.wfile.flush()
        self.close_connection = True


def serve(directory: Path, handler: type) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/release"


@pytest.fixture
def release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fake public release holding citation_intent, served over HTTP; TARTAN_DATA_URL points at it."""
    folder = tmp_path / "site" / "release" / "citation_intent"
    folder.mkdir(parents=True)
    for split, records in RECORDS.items():
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    server, url = serve(tmp_path / "site", QuietHandler)
    monkeypatch.setenv("TARTAN_DATA_URL", url)
    yield url
    server.shutdown()
    server.server_close()


def files_under(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def test_fetch_command_writes_the_splits_and_derives_train_txt(tmp_path: Path, release: str) -> None:
    target = tmp_path / "data"
    result = CliRunner().invoke(cli, ["data", "fetch", "citation_intent", "--to", str(target)])
    assert result.exit_code == 0, result.output
    folder = target / "citation_intent"
    assert files_under(target) == ["dev.jsonl", "test.jsonl", "train.jsonl", "train.txt"]
    for split, records in RECORDS.items():
        assert [json.loads(line) for line in (folder / f"{split}.jsonl").read_text().splitlines()] == records
    assert (folder / "train.txt").read_text() == "we use the model\nprior work showed\nresults improve\nearlier studies\n"
    assert [Path(line).name for line in result.output.split()] == ["train.jsonl", "dev.jsonl", "test.jsonl", "train.txt"]


def test_fetch_refuses_config_options_without_an_experiment_file(tmp_path: Path) -> None:
    for option in (["--ext-var", "steps=10"], ["-o", "trainer.lr=0.1"], ["--overrides", "{}"]):
        result = CliRunner().invoke(cli, ["data", "fetch", "citation_intent", "--to", str(tmp_path / "data"), *option])
        assert result.exit_code != 0
        assert "none of citation_intent is one" in result.output and "drop them" in result.output
    assert not (tmp_path / "data").exists()


def test_fetch_keeps_files_already_there(tmp_path: Path, release: str) -> None:
    folder = tmp_path / "data" / "citation_intent"
    folder.mkdir(parents=True)
    (folder / "dev.jsonl").write_text('{"text": "mine", "label": "Uses"}\n')
    assert CliRunner().invoke(cli, ["data", "fetch", "citation_intent", "--to", str(tmp_path / "data")]).exit_code == 0
    assert (folder / "dev.jsonl").read_text() == '{"text": "mine", "label": "Uses"}\n'
    assert (folder / "train.jsonl").exists()


def test_fetch_defaults_to_the_data_root(tmp_path: Path, release: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TARTAN_DATA", str(tmp_path / "root"))
    assert CliRunner().invoke(cli, ["data", "fetch", "citation_intent"]).exit_code == 0
    assert files_under(tmp_path / "root") == ["dev.jsonl", "test.jsonl", "train.jsonl", "train.txt"]


def test_a_missing_file_is_fetched_on_demand(tmp_path: Path, release: str) -> None:
    root = DataRoot(tmp_path / "data")
    path = root.file("citation_intent/train.txt")
    assert path == tmp_path / "data" / "citation_intent" / "train.txt" and path.exists()
    assert files_under(tmp_path / "data") == ["dev.jsonl", "test.jsonl", "train.jsonl", "train.txt"]


def test_a_run_whose_task_files_are_missing_fetches_them(tmp_path: Path, tiny, release: str) -> None:
    config = tiny(aux=("tapt",), max_steps=1, eval_every=1)
    config["data_root"] = str(tmp_path / "empty")
    config["body"]["tokenizer_corpora"] = ["citation_intent/train.txt"]
    config["end_task"]["dataset"] = "citation_intent"
    config["end_task"]["batch_size"] = 2
    config["aux_tasks"][0]["corpus"] = "citation_intent/train.txt"
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps(config))
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", str(path), "-s", str(out), "--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    assert files_under(tmp_path / "empty") == ["dev.jsonl", "test.jsonl", "train.jsonl", "train.txt"]
    assert json.loads((out / "labels.json").read_text()) == ["Background", "Uses"]


def test_offline_fetch_is_one_clear_line_and_leaves_no_partial_file(tmp_path: Path, release: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    server, url = serve(tmp_path, QuietHandler)
    server.shutdown()
    server.server_close()
    monkeypatch.setenv("TARTAN_DATA_URL", url)
    target = tmp_path / "data"
    result = CliRunner().invoke(cli, ["data", "fetch", "citation_intent", "--to", str(target)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    assert lines[0].startswith(f"error: cannot download {url}/citation_intent/train.jsonl (")
    assert "offline?" in lines[0] and "TARTAN_DATA" in lines[0]
    assert files_under(target) == []


def test_a_download_cut_short_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server, url = serve(tmp_path, TruncatingHandler)
    monkeypatch.setenv("TARTAN_DATA_URL", url)
    target = tmp_path / "data"
    try:
        result = CliRunner().invoke(cli, ["data", "fetch", "citation_intent", "--to", str(target)])
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 2, result.output
    assert result.output.strip().startswith(f"error: cannot download {url}/citation_intent/train.jsonl (got 31 of 100000 bytes)")
    assert files_under(target) == []


def test_a_file_missing_from_the_release_is_reported(tmp_path: Path, release: str) -> None:
    (tmp_path / "site" / "release" / "citation_intent" / "test.jsonl").unlink()
    target = tmp_path / "data"
    result = CliRunner().invoke(cli, ["data", "fetch", "citation_intent", "--to", str(target)])
    assert result.exit_code == 2
    assert "citation_intent/test.jsonl (HTTP 404 File not found); check TARTAN_DATA_URL" in result.output
    assert files_under(target) == ["dev.jsonl", "train.jsonl"]


def test_unknown_task_lists_the_release(tmp_path: Path, release: str) -> None:
    result = CliRunner().invoke(cli, ["data", "fetch", "citation", "--to", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: 'citation': not a task of the public release (chemprot, citation_intent, sciie, hyperpartisan), "
        f"nor an experiment file, nor a task folder under the data root {tmp_path}; check the name, or set --to or "
        f"TARTAN_DATA to the data root holding it"
    )


def test_a_malformed_released_split_is_reported_by_line(tmp_path: Path, release: str) -> None:
    train = tmp_path / "site" / "release" / "citation_intent" / "train.jsonl"
    train.write_text(train.read_text() + "{broken\n")
    target = tmp_path / "data"
    result = CliRunner().invoke(cli, ["data", "fetch", "citation_intent", "--to", str(target)])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {target / 'citation_intent' / 'train.jsonl'}:5: malformed JSON " \
        "(Expecting property name enclosed in double quotes); fix or remove the line"
    assert files_under(target) == ["dev.jsonl", "test.jsonl", "train.jsonl"]


# --- Data of one's own: a task folder, or everything an experiment file reads.

def own_task(root: Path, name: str = "mine") -> Path:
    """train/dev/test.jsonl only, as docs/tutorials/own-data.md's reader starts with (no train.txt)."""
    folder = root / name
    folder.mkdir(parents=True)
    for split, records in RECORDS.items():
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


def test_fetch_a_task_folder_of_ones_own_checks_it_and_derives_train_txt(tmp_path: Path) -> None:
    folder = own_task(tmp_path / "data")
    result = CliRunner().invoke(cli, ["data", "fetch", "mine", "--to", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"mine train: {folder / 'train.jsonl'} present, 4 examples",
        f"mine dev: {folder / 'dev.jsonl'} present, 2 examples",
        f"mine test: {folder / 'test.jsonl'} present, 2 examples",
        f"mine TAPT corpus: {folder / 'train.txt'} derived from train.jsonl, 4 examples",
    ]
    assert (folder / "train.txt").read_text().splitlines()[0] == "we use the model"
    again = CliRunner().invoke(cli, ["data", "fetch", "mine", "--to", str(tmp_path / "data")])
    assert again.stdout.splitlines()[-1] == f"mine TAPT corpus: {folder / 'train.txt'} present, 4 examples"


def hub_folder(root: Path) -> Path:
    """A folder of Parquet files, which ``load_dataset`` reads as it reads a hub repository's."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = root / "hub_corpus" / "data"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"text": ["a domain text", "another one", "and a third"]}), folder / "train-00000-of-00001.parquet")
    return folder.parent


def experiment(root: Path, hub: Path, **end_task) -> dict:
    return {
        "data_root": str(root),
        "body": {"type": "scratch", "tokenizer_corpora": ["mine/train.txt"], "vocab_size": 60, "hidden_size": 16,
                 "num_layers": 1, "num_heads": 2, "intermediate_size": 32},
        "end_task": {"dataset": "mine", "metric": "macro_f1", **end_task},
        "aux_tasks": [{"type": "mlm", "name": "tapt", "corpus": "mine/train.txt"},
                      {"type": "mlm", "name": "release", "corpus": "citation_intent/train.txt"},
                      {"type": "mlm", "name": "dapt", "corpus": "train", "reader": {"type": "hub", "path": str(hub)}},
                      {"type": "nsp", "name": "nsp", "corpus": "mine/train.txt"}],
    }


def test_fetch_an_experiment_file_prepares_every_source_it_reads(tmp_path: Path, release: str) -> None:
    from tartan_fw.data.arrow import datasets_cache

    root = tmp_path / "data"
    folder = own_task(root)
    hub = hub_folder(tmp_path)
    config = tmp_path / "mine.json"
    config.write_text(json.dumps(experiment(root, hub)))
    result = CliRunner().invoke(cli, ["data", "fetch", str(config)])
    assert result.exit_code == 0, result.output
    released = root / "citation_intent"
    assert result.stdout.splitlines() == [
        f"body: {folder / 'train.txt'} derived from train.jsonl",
        f"end_task: {folder / 'train.jsonl'} present, 4 examples",
        f"end_task: {folder / 'dev.jsonl'} present, 2 examples",
        f"end_task: {folder / 'test.jsonl'} present, 2 examples",
        f"aux_tasks[0] (tapt): {folder / 'train.txt'} present, 4 examples",
        f"aux_tasks[1] (release): {released / 'train.txt'} downloaded from the public release, 4 examples",
        f"aux_tasks[2] (dapt): {hub} split 'train' in the datasets cache ({datasets_cache()}), 3 examples",
        "aux_tasks[3] (nsp): as aux_tasks[0] (tapt)",  # the same file through the same reader: read once
    ]
    assert files_under(released) == ["dev.jsonl", "test.jsonl", "train.jsonl", "train.txt"]
    assert CliRunner().invoke(cli, ["validate", str(config)]).output.strip() == f"{config}: ok"


def test_fetch_asks_the_hub_for_the_configured_dataset_into_the_cache(tmp_path: Path, monkeypatch) -> None:
    import datasets

    from tartan_fw.data.arrow import datasets_cache

    calls = []

    def load_dataset(path, name=None, **kwargs):
        calls.append((path, name, kwargs))
        return datasets.Dataset.from_dict({"text": ["one text", "two texts"], "label": ["x", "y"]})

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    root = tmp_path / "data"
    own_task(root)
    config = experiment(root, tmp_path)
    config["aux_tasks"] = [{"type": "mlm", "name": "dapt", "corpus": "train[:50%]",
                            "reader": {"type": "hub", "path": "user/corpus", "name": "en", "revision": "v1"}}]
    (tmp_path / "hub.json").write_text(json.dumps(config))
    result = CliRunner().invoke(cli, ["data", "fetch", str(tmp_path / "hub.json"), "--to", str(root)])
    assert result.exit_code == 0, result.output
    assert calls == [("user/corpus", "en", {"split": "train[:50%]", "revision": "v1", "cache_dir": str(datasets_cache())})]
    assert result.stdout.splitlines()[-1] == (
        f"aux_tasks[0] (dapt): user/corpus (en) split 'train[:50%]' in the datasets cache ({datasets_cache()}), 2 examples")


def test_fetch_prepares_what_it_can_and_names_every_missing_source_in_one_line(tmp_path: Path, release: str) -> None:
    root = tmp_path / "data"
    folder = own_task(root)
    (folder / "dev.jsonl").unlink()
    config = experiment(root, tmp_path / "no-such-hub-folder")
    config["aux_tasks"][1]["corpus"] = "mine/domain.txt"
    (tmp_path / "mine.json").write_text(json.dumps(config))
    result = CliRunner().invoke(cli, ["data", "fetch", str(tmp_path / "mine.json")])
    assert result.exit_code == 2
    assert (folder / "train.txt").exists()  # what could be had was prepared
    assert f"aux_tasks[0] (tapt): {folder / 'train.txt'} present, 4 examples" in result.stdout
    error = result.stderr.strip()
    assert "\n" not in error and error.startswith("error: 3 sources cannot be prepared: end_task: "), error
    assert f"{folder / 'dev.jsonl'}: data file not found" in error
    assert f"aux_tasks[1] (release): {folder / 'domain.txt'}: data file not found" in error
    assert "aux_tasks[2] (dapt): " in error and "cannot load the dataset" in error
