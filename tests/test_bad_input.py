"""Bad input through the real CLI: exit code 2, one line saying where and what to do, no traceback,
and no run directory left behind."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from tartan_fw.cli.main import cli


def closed_port_url() -> str:
    """A localhost URL nothing listens on, so a download attempt fails at once and never leaves the machine."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/release"


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Downloads go to a closed local port; every URL asked for is recorded."""
    import urllib.request

    monkeypatch.setenv("TARTAN_DATA_URL", closed_port_url())
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    requested: list[str] = []
    real = urllib.request.urlopen

    def recording(url, *args, **kwargs):
        requested.append(url)
        return real(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", recording)
    return requested


def run_cli(tmp_path: Path, config: dict | str, *extra: str) -> tuple[object, Path]:
    path = tmp_path / "experiment.jsonnet"
    path.write_text(config if isinstance(config, str) else json.dumps(config))
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", str(path), "-s", str(out), "--device", "cpu", "--quiet", *extra])
    return result, out


def assert_clean_failure(result, out: Path, *fragments: str) -> str:
    """Exit 2, one ``error:`` line containing every fragment, no traceback, no run directory."""
    assert result.exit_code == 2, result.output
    assert result.exc_info is None or result.exc_info[0] is SystemExit, result.exc_info
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]
    assert not out.exists()
    return lines[0]


def rewrite(path: Path, edit: Callable[[list[dict]], list]) -> None:
    records = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in edit(records)))


def test_malformed_json_line(tmp_path: Path, tiny, data_root: Path) -> None:
    rewrite(data_root / "tiny" / "train.jsonl", lambda rs: rs[:4] + ['{"text": "a", "label": '] + rs[4:])
    result, out = run_cli(tmp_path, tiny())
    assert_clean_failure(result, out, f"{data_root / 'tiny' / 'train.jsonl'}:5: malformed JSON", "fix or remove the line")


@pytest.mark.parametrize("field", ["text", "label"])
def test_missing_field(tmp_path: Path, tiny, data_root: Path, field: str) -> None:
    rewrite(data_root / "tiny" / "dev.jsonl", lambda rs: rs[:2] + [{k: v for k, v in rs[2].items() if k != field}])
    result, out = run_cli(tmp_path, tiny())
    assert_clean_failure(result, out, f"{data_root / 'tiny' / 'dev.jsonl'}:3: missing '{field}' field")


@pytest.mark.parametrize("name", ["test.jsonl", "train.txt"])
def test_empty_data_file(tmp_path: Path, tiny, data_root: Path, name: str) -> None:
    (data_root / "tiny" / name).write_text("\n")
    result, out = run_cli(tmp_path, tiny(aux=("tapt",)))
    assert_clean_failure(result, out, f"{data_root / 'tiny' / name}: the file holds no examples")


def test_label_never_seen_in_train(tmp_path: Path, tiny, data_root: Path) -> None:
    rewrite(data_root / "tiny" / "test.jsonl", lambda rs: rs[:6] + [{**rs[6], "label": "surprise"}] + rs[7:])
    result, out = run_cli(tmp_path, tiny())
    assert_clean_failure(result, out, f"{data_root / 'tiny' / 'test.jsonl'}:7: label 'surprise' never occurs in train",
                         "train labels: background, method, result")


def test_non_utf8_data_file(tmp_path: Path, tiny, data_root: Path) -> None:
    path = data_root / "tiny" / "dev.jsonl"
    path.write_bytes(path.read_bytes() + b'{"text": "caf\xe9", "label": "method"}\n')
    result, out = run_cli(tmp_path, tiny())
    assert_clean_failure(result, out, f"{path}:13: not UTF-8 text")


def test_non_utf8_tokenizer_corpus(tmp_path: Path, tiny, data_root: Path) -> None:
    path = data_root / "tiny" / "domain.1xTAPT.txt"
    path.write_bytes(path.read_bytes() + b"caf\xe9 au lait\n")
    result, out = run_cli(tmp_path, tiny())
    assert_clean_failure(result, out, "body.tokenizer_corpora: cannot train a tokenizer on", "must be UTF-8 text")


def test_missing_file_outside_the_release_never_touches_the_network(tmp_path: Path, tiny, offline: list[str]) -> None:
    config = tiny()
    config["end_task"]["dataset"] = "mytask"
    result, out = run_cli(tmp_path, config)
    line = assert_clean_failure(result, out, "mytask/train.jsonl: data file not found", "not in the public release",
                                "TARTAN_DATA")
    assert "tartan-fw data fetch" not in line
    assert offline == []


def test_missing_absolute_path(tmp_path: Path, tiny, offline: list[str]) -> None:
    config = tiny(aux=("tapt",))
    config["aux_tasks"][0]["corpus"] = str(tmp_path / "nowhere" / "corpus.txt")
    result, out = run_cli(tmp_path, config)
    assert_clean_failure(result, out, f"{tmp_path / 'nowhere' / 'corpus.txt'}: data file not found; fix the absolute path")
    assert offline == []


def test_missing_dapt_corpus_of_a_release_task_is_not_downloaded(tmp_path: Path, tiny, data_root: Path,
                                                                 offline: list[str]) -> None:
    (data_root / "citation_intent").mkdir()
    config = tiny(aux=("dapt",))
    config["aux_tasks"][0]["corpus"] = "citation_intent/domain.1xTAPT.txt"
    result, out = run_cli(tmp_path, config)
    assert_clean_failure(result, out, "citation_intent/domain.1xTAPT.txt: data file not found", "not in the public release")
    assert offline == []


def test_missing_release_file_offline_says_how_to_get_it(tmp_path: Path, tiny, data_root: Path,
                                                         offline: list[str]) -> None:
    config = tiny(aux=())
    config["end_task"]["dataset"] = "citation_intent"
    result, out = run_cli(tmp_path, config)
    assert_clean_failure(result, out, "cannot download", "citation_intent/train.jsonl", "offline?", "TARTAN_DATA")
    assert len(offline) == 1 and offline[0].startswith(os.environ["TARTAN_DATA_URL"])
    assert sorted(p.name for p in (data_root / "citation_intent").iterdir()) == []


def test_missing_release_file_without_fetching_names_the_fetch_command(tmp_path: Path) -> None:
    from tartan_fw.data.root import DataRoot
    from tartan_fw.errors import DataError

    with pytest.raises(DataError) as err:
        DataRoot(tmp_path, fetch_missing=False).file("sciie/dev.jsonl")
    assert "run 'tartan-fw data fetch sciie'" in str(err.value) and "TARTAN_DATA" in str(err.value)


def test_jsonnet_syntax_error(tmp_path: Path) -> None:
    result, out = run_cli(tmp_path, "{\n  seed: 1,\n  trainer: {\n}\n")
    assert_clean_failure(result, out, f"{tmp_path / 'experiment.jsonnet'}:5:")


def test_unknown_component_type(tmp_path: Path, tiny) -> None:
    config = tiny()
    config["weighter"] = {"type": "unifrom"}
    result, out = run_cli(tmp_path, config)
    assert_clean_failure(result, out, "weighter.type: unknown weighter 'unifrom' (did you mean 'uniform'? registered:")


def test_unknown_parameter(tmp_path: Path, tiny) -> None:
    result, out = run_cli(tmp_path, tiny(), "-o", "trainer.max_stepz=3")
    assert_clean_failure(result, out, "trainer.max_stepz: unknown parameter for trainer 'tartan' (did you mean 'max_steps'?")


def test_missing_parameter(tmp_path: Path, tiny) -> None:
    config = tiny()
    del config["end_task"]["dataset"]
    result, out = run_cli(tmp_path, config)
    assert_clean_failure(result, out, "end_task.dataset: missing required parameter of end_task 'classification' (str)")


def test_wrong_type(tmp_path: Path, tiny) -> None:
    result, out = run_cli(tmp_path, tiny(), "-o", "aux_tasks.1.batch_size=four")
    assert_clean_failure(result, out, "aux_tasks[1].batch_size: expected int, got str 'four'")


def test_invalid_value(tmp_path: Path, tiny) -> None:
    result, out = run_cli(tmp_path, tiny(), "-o", "end_task.batch_size=0")
    assert_clean_failure(result, out, "end_task: batch_size must be at least 1, got 0")


def test_fixed_weights_that_do_not_match_the_tasks(tmp_path: Path, tiny) -> None:
    config = tiny()
    config["weighter"] = {"type": "fixed", "weights": {"tiny": 2, "tapt": 1}}
    result, out = run_cli(tmp_path, config)
    assert_clean_failure(result, out, "weighter.weights: give one weight per task (tiny, tapt, dapt); missing: dapt")


def test_override_matching_nothing(tmp_path: Path, tiny) -> None:
    result, out = run_cli(tmp_path, tiny(), "-o", "trainer.schedule.steps=3")
    assert_clean_failure(result, out, "-o trainer.schedule.steps: 'trainer.schedule' matches nothing in the config")


def test_bad_overrides_json(tmp_path: Path, tiny) -> None:
    result, out = run_cli(tmp_path, tiny(), "--overrides", "{trainer: 1}")
    assert_clean_failure(result, out, "--overrides: not valid JSON")


def test_undefined_ext_var(tmp_path: Path) -> None:
    result, out = run_cli(tmp_path, "{ seed: std.extVar('seed') }")
    assert_clean_failure(result, out, "undefined external variable: seed", "--ext-var KEY=VALUE")


def test_several_config_errors_are_listed_together(tmp_path: Path, tiny) -> None:
    config = tiny()
    config["weighter"] = {"type": "metaa"}
    config["trainer"]["max_steps"] = "ten"
    result, out = run_cli(tmp_path, config)
    assert result.exit_code == 2 and not out.exists() and "Traceback" not in result.output
    assert result.output.startswith("error: 2 config errors:\n")
    assert "weighter.type: unknown weighter 'metaa'" in result.output
    assert "trainer.max_steps: expected int, got str 'ten'" in result.output


def test_validate_reports_the_same_errors(tmp_path: Path, tiny) -> None:
    path = tmp_path / "experiment.jsonnet"
    path.write_text(json.dumps(tiny()))
    result = CliRunner().invoke(cli, ["validate", str(path), "-o", "trainer.max_stepz=3"])
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {path}: trainer.max_stepz: unknown parameter")
    assert CliRunner().invoke(cli, ["validate", str(path)]).output.strip() == f"{path}: ok"


def test_debug_shows_the_traceback(tmp_path: Path, tiny) -> None:
    from tartan_fw.errors import ConfigurationError

    path = tmp_path / "experiment.jsonnet"
    path.write_text(json.dumps(tiny()))
    result = CliRunner().invoke(cli, ["--debug", "run", str(path), "-s", str(tmp_path / "run"), "-o", "trainer.max_stepz=3"])
    assert isinstance(result.exception, ConfigurationError)
    assert not (tmp_path / "run").exists()


def test_real_process_exits_2_with_one_stderr_line(tmp_path: Path) -> None:
    config = tmp_path / "experiment.jsonnet"
    config.write_text("{\n  seed: 1\n  trainer: {},\n}\n")
    out = tmp_path / "run"
    env = {**os.environ, "TARTAN_DATA_URL": closed_port_url()}
    process = subprocess.run(
        [sys.executable, "-m", "tartan_fw.cli.main", "run", str(config), "-s", str(out), "--quiet", "--device", "cpu"],
        check=False, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert process.returncode == 2, process.stderr
    assert process.stderr.count("\n") == 1 and "Traceback" not in process.stderr
    assert process.stderr.startswith(f"error: {config}:3:"), process.stderr
    assert process.stdout == "" and not out.exists()


def test_null_label_names_file_and_line(tmp_path: Path, tiny, data_root: Path) -> None:
    rewrite(data_root / "tiny" / "train.jsonl", lambda rs: rs[:3] + [{**rs[3], "label": None}] + rs[4:])
    result, out = run_cli(tmp_path, tiny())
    assert_clean_failure(result, out, f"{data_root / 'tiny' / 'train.jsonl'}:4: 'label' is null",
                         "give the line a label or remove it")


def test_csv_without_the_configured_column(tmp_path: Path, tiny, data_root: Path) -> None:
    for split in ("train", "dev", "test"):
        (data_root / "tiny" / f"{split}.csv").write_text("sentence,label\na b,method\n")
    config = tiny()
    config["end_task"]["reader"] = {"type": "csv"}
    result, out = run_cli(tmp_path, config)
    assert_clean_failure(result, out, f"{data_root / 'tiny' / 'train.csv'}:1: no column 'text' in the header (sentence, "
                         "label)", "text_column")


@pytest.mark.parametrize("damage, size", [("tables", 100), ("tables", 0), ("tokenizer", 100)])
def test_corrupt_caches_heal_themselves(tmp_path: Path, tiny, monkeypatch: pytest.MonkeyPatch, caplog, damage: str,
                                        size: int) -> None:
    """Truncated or emptied Arrow tables (read and tokenised) or tokenizer are rebuilt, one line each.

    The two are damaged in separate runs: a retrained WordPiece tokenizer need not number its pieces as
    the first did, and then the tokenised tables of the first are no longer the ones asked for.
    """
    cache = tmp_path / "cache"
    monkeypatch.setenv("TARTAN_CACHE", str(cache))
    first, out = run_cli(tmp_path, tiny(aux=("tapt",)))
    assert first.exit_code == 0, first.output
    damaged = sorted(cache.rglob("*.arrow" if damage == "tables" else "tokenizer.json"))
    assert len(damaged) == (8 if damage == "tables" else 1)  # three splits and a corpus, read and tokenised
    for path in damaged:
        with path.open("r+b") as handle:
            handle.truncate(size)
    with caplog.at_level(logging.WARNING, logger="tartan_fw"):
        again, _ = run_cli(tmp_path, tiny(aux=("tapt",)), "--force")
    assert again.exit_code == 0, again.output
    warnings = [r.getMessage() for r in caplog.records if "corrupt cache entry" in r.getMessage()]
    assert len(warnings) == len(damaged) and all(w.endswith("rebuilding it") and "\n" not in w for w in warnings)
    assert "Traceback" not in again.output
    assert json.loads((out / "metrics.json").read_text())["best_step"] > 0
