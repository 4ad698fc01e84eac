"""Bad input through the real CLI: exit code 2, one line saying where and what to do, no traceback,
and no run directory left behind."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO, assert_one_line_error, wait_until_catching

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


def set_fields(path: Path, line: int, **fields: object) -> None:
    """Give line ``line`` (1-based) of a JSON-lines file new values for ``fields``."""
    rewrite(path, lambda rs: rs[:line - 1] + [{**rs[line - 1], **fields}] + rs[line:])


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
    set_fields(data_root / "tiny" / "test.jsonl", 7, label="surprise")
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
    assert not (data_root / "citation_intent").exists()  # no empty task folder left behind


def test_missing_release_file_without_fetching_names_the_fetch_command(tmp_path: Path) -> None:
    from tartan_fw.data.root import DataRoot
    from tartan_fw.errors import DataError

    with pytest.raises(DataError) as err:
        DataRoot(tmp_path, fetch_missing=False).file("sciie/dev.jsonl")
    assert "run 'tartan-fw data fetch sciie'" in str(err.value) and "TARTAN_DATA" in str(err.value)


def test_fixed_weights_that_do_not_match_the_tasks(tmp_path: Path, tiny) -> None:
    config = tiny()
    config["weighter"] = {"type": "fixed", "weights": {"tiny": 2, "tapt": 1}}
    result, out = run_cli(tmp_path, config)
    assert_clean_failure(result, out, "weighter.weights: give one weight per task (tiny, tapt, dapt); missing: dapt")


def test_override_matching_nothing(tmp_path: Path, tiny) -> None:
    result, out = run_cli(tmp_path, tiny(), "-o", "trainer.schedule.steps=3")
    assert_clean_failure(result, out, "-o trainer.schedule.steps: 'trainer.schedule' matches nothing in the config")


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
    set_fields(data_root / "tiny" / "train.jsonl", 4, label=None)
    result, out = run_cli(tmp_path, tiny())
    assert_clean_failure(result, out, f"{data_root / 'tiny' / 'train.jsonl'}:4: 'label' is null",
                         "give the line a label or remove it")


@pytest.mark.parametrize("label, fragment", [
    (["method"], ''''label' is ["method"], not a label; give the line one label'''),
    (float("nan"), "'label' is NaN, not a label"),
    (1.5, "'label' is 1.5, not a label"),
    (7, ''''label' is 7 where line 1's is "background"; write every label of the file the same way'''),
], ids=["list", "NaN", "fraction", "number among names"])
def test_label_that_is_no_class_name(tmp_path: Path, tiny, data_root: Path, label: object, fragment: str) -> None:
    set_fields(data_root / "tiny" / "train.jsonl", 4, label=label)
    result, out = run_cli(tmp_path, tiny())
    assert_clean_failure(result, out, f"{data_root / 'tiny' / 'train.jsonl'}:4: {fragment}")


def test_lone_surrogate_in_a_text(tmp_path: Path, tiny, data_root: Path) -> None:
    set_fields(data_root / "tiny" / "train.jsonl", 6, text="a \ud800 b")
    result, out = run_cli(tmp_path, tiny())
    assert_clean_failure(result, out, f"{data_root / 'tiny' / 'train.jsonl'}:6: holds a lone surrogate escape",
                         "fix or remove the line")


def test_a_data_file_that_is_a_folder(tmp_path: Path, tiny, data_root: Path) -> None:
    dev = data_root / "tiny" / "dev.jsonl"
    dev.unlink()
    dev.mkdir()
    result, out = run_cli(tmp_path, tiny())
    assert_clean_failure(result, out, f"{dev}: a folder, where a data file is read", "put the file in its place")
    result = CliRunner().invoke(cli, ["validate", str(tmp_path / "experiment.jsonnet")])
    assert_one_line_error(result, f"end_task: {dev}: a folder, where a data file is read")


def test_jsonl_that_is_a_json_array(tmp_path: Path, tiny, data_root: Path) -> None:
    path = data_root / "tiny" / "train.jsonl"
    path.write_text(json.dumps([json.loads(line) for line in path.read_text().splitlines()], indent=2))
    result, out = run_cli(tmp_path, tiny())
    assert_clean_failure(result, out, f"{path}:1: a JSON array, where JSON lines hold one object per line",
                         "jq -c '.[]' train.jsonl")


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
    """Truncated or emptied Arrow tables (read and tokenised) or tokenizer are rebuilt, one line each
    (each kind damaged in a run of its own, so the warnings counted are that kind's)."""
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


# --- Config values: out of range is refused at its dotted path, by run (before anything is written) and by
# validate in both modes; every declared range's message is checked in tests/test_registry.py.

def test_out_of_range_value(tmp_path: Path, tiny) -> None:
    result, out = run_cli(tmp_path, tiny(), "-o", "end_task.batch_size=0")
    assert_clean_failure(result, out, "end_task.batch_size: must be at least 1, got 0")


@pytest.mark.parametrize("mode", [["--config-only"], []], ids=["config-only", "full"])
@pytest.mark.parametrize("override, message", [
    ("body.max_length=4", "body.max_length: must be at least 8, got 4"),  # constructors checked these two, unseen
    ("end_task.head.dropout=1.5", "end_task.head.dropout: must be in [0, 1), got 1.5"),
])
def test_validate_reports_out_of_range_values(tmp_path: Path, tiny, override: str, message: str, mode: list[str]) -> None:
    path = tmp_path / "experiment.jsonnet"
    path.write_text(json.dumps(tiny()))
    result = CliRunner().invoke(cli, ["validate", *mode, str(path), "-o", override])
    assert result.exit_code == 2 and result.output.strip() == f"error: {path}: {message}", result.output


def test_debug_shows_what_a_constructors_check_raised(tmp_path: Path, tiny) -> None:
    """Task names are compared once the tasks' configs are resolved: by full validate, chained to the original error."""
    path = tmp_path / "experiment.jsonnet"
    path.write_text(json.dumps(tiny()))
    plain = CliRunner().invoke(cli, ["validate", str(path), "-o", "aux_tasks.1.name=tapt"])
    assert plain.output.strip() == f"error: {path}: <top level>: task names must be unique; repeated: tapt"
    debug = CliRunner().invoke(cli, ["--debug", "validate", str(path), "-o", "aux_tasks.1.name=tapt"])
    chain = [debug.exception]
    while chain[-1].__cause__ is not None:
        chain.append(chain[-1].__cause__)
    assert type(chain[-1]) is ValueError and str(chain[-1]) == "task names must be unique; repeated: tapt"


# --- Corrupt run state: resume, predict, evaluate, export and compare name the damaged file; nothing changes.

def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (the lock file aside: it holds the last locker's pid)."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*")) if p.name != ".lock"}


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An interrupted run (SIGINT after step 3: checkpoint and best model at step 3) and a finished one."""
    import signal

    import torch

    from conftest import tiny_config, write_tiny_task
    from tartan_fw.errors import TrainingInterrupted
    from tartan_fw.runner import run_experiment
    from tartan_fw.training.trainer import StageLoop

    root = tmp_path_factory.mktemp("runs")
    write_tiny_task(root / "data")
    cpu = torch.device("cpu")
    original = StageLoop.step

    def step(self: StageLoop, number: int) -> dict:
        losses = original(self, number)
        if number == 3:
            signal.raise_signal(signal.SIGINT)
        return losses

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TARTAN_CACHE", os.environ.get("TARTAN_CACHE", str(tmp_path_factory.getbasetemp() / "cache")))
        run_experiment(tiny_config(root / "data", aux=(), max_steps=3, eval_every=3), root / "finished", cpu,
                       show_progress=False)
        patch.setattr(StageLoop, "step", step)
        with pytest.raises(TrainingInterrupted):
            run_experiment(tiny_config(root / "data", max_steps=6, eval_every=3, checkpoint_every=2),
                           root / "interrupted", cpu, show_progress=False)
    return {"finished": root / "finished", "interrupted": root / "interrupted"}


def checkpoint_file(run: Path, name: str) -> Path:
    return run / "checkpoint" / json.loads((run / "checkpoint" / "latest").read_text())["folder"] / name


def truncate(path: Path, size: int) -> None:
    path.write_bytes(path.read_bytes()[:size])


RESUME_DAMAGE = {
    "checkpoint model truncated": (lambda run: truncate(checkpoint_file(run, "model.safetensors"), 100),
                                   "model.safetensors: truncated or corrupt", "restart the run"),
    "checkpoint model empty": (lambda run: truncate(checkpoint_file(run, "model.safetensors"), 0),
                               "model.safetensors: truncated or corrupt", "restart the run"),
    "checkpoint state truncated": (lambda run: truncate(checkpoint_file(run, "state.pt"), 1000),
                                   "state.pt: truncated or corrupt", "restart the run"),
    "checkpoint folder gone": (lambda run: shutil.rmtree(checkpoint_file(run, "")),
                               "model.safetensors: missing", "restart the run"),
    "latest garbled": (lambda run: (run / "checkpoint" / "latest").write_text('{"fol'),
                       "checkpoint/latest: unreadable or corrupt", "restart the run"),
    "latest not a pointer": (lambda run: (run / "checkpoint" / "latest").write_text('{"folder": 3}'),
                             "checkpoint/latest: not a checkpoint pointer", "restart the run"),
    "config.json corrupt": (lambda run: (run / "config.json").write_text('{"seed": '),
                            "config.json: unreadable or corrupt", "--force"),
    "config.json not an object": (lambda run: (run / "config.json").write_text("[1, 2]"),
                                  "config.json: expected the run's resolved config", "--force"),
    "ext_vars.json missing": (lambda run: (run / "ext_vars.json").unlink(),
                              "ext_vars.json: missing", "({} for none)"),
    "best model truncated": (lambda run: truncate(run / "best" / "model.safetensors", 1000),
                             "best/model.safetensors: truncated or corrupt", "train the run again"),
}


@pytest.mark.parametrize("case", RESUME_DAMAGE)
def test_resume_of_a_damaged_run(tmp_path: Path, run_dirs: dict[str, Path], case: str) -> None:
    damage, *fragments = RESUME_DAMAGE[case]
    run = tmp_path / "run"
    shutil.copytree(run_dirs["interrupted"], run)
    damage(run)
    before = snapshot(run)
    result = CliRunner().invoke(cli, ["resume", str(run), "--device", "cpu", "--quiet"])
    assert_one_line_error(result, *fragments)
    assert snapshot(run) == before  # no event file, log line, checkpoint or metrics written


FINISHED_DAMAGE = {
    "predict, best model truncated": (lambda run, tmp: truncate(run / "best" / "model.safetensors", 1000),
                                      ["predict", "{run}", "{tmp}/in.jsonl", "-o", "{tmp}/out.jsonl"],
                                      ["best/model.safetensors: truncated or corrupt", "train the run again"]),
    "evaluate, best model truncated": (lambda run, tmp: truncate(run / "best" / "model.safetensors", 0),
                                       ["evaluate", "{run}", "--device", "cpu"],
                                       ["best/model.safetensors: truncated or corrupt", "train the run again"]),
    "export, best model truncated": (lambda run, tmp: truncate(run / "best" / "model.safetensors", 1000),
                                     ["export", "{run}", "{tmp}/exported"],
                                     ["best/model.safetensors: truncated or corrupt", "train the run again"]),
    "predict, labels.json corrupt": (lambda run, tmp: (run / "labels.json").write_text("{"),
                                     ["predict", "{run}", "{tmp}/in.jsonl"], ["labels.json: unreadable or corrupt"]),
    "predict, non-UTF-8 input": (lambda run, tmp: (tmp / "in.jsonl").write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n'),
                                 ["predict", "{run}", "{tmp}/in.jsonl", "-o", "{tmp}/out.jsonl"],
                                 ["in.jsonl:2: not UTF-8 text", "re-save the file as UTF-8"]),
    "predict, lone surrogate in input": (lambda run, tmp: (tmp / "in.jsonl").write_text('{"text": "a \\udc00"}\n'),
                                         ["predict", "{run}", "{tmp}/in.jsonl", "-o", "{tmp}/out.jsonl"],
                                         ["in.jsonl:1: holds a lone surrogate escape"]),
    "predict, -o below a file": (lambda run, tmp: (tmp / "file").write_text("x"),
                                 ["predict", "{run}", "{tmp}/in.jsonl", "-o", "{tmp}/file/out.jsonl"],
                                 ["file/out.jsonl: cannot be written", "is a file"]),
    "predict -o onto the run's metrics": (lambda run, tmp: None,
                                          ["predict", "{run}", "{tmp}/in.jsonl", "-o", "{run}/metrics.json"],
                                          ["metrics.json: belongs to the run", "choose another output file with -o"]),
    "predict -o into the run's model folder": (lambda run, tmp: None,
                                               ["predict", "{run}", "{tmp}/in.jsonl", "-o", "{run}/best/new.jsonl"],
                                               ["best/new.jsonl: belongs to the run"]),
    "predict -o onto the input": (lambda run, tmp: (tmp / "alias.jsonl").symlink_to(tmp / "in.jsonl"),
                                  ["predict", "{run}", "{tmp}/in.jsonl", "-o", "{tmp}/alias.jsonl"],
                                  ["alias.jsonl: is the input file", "choose another output file with -o"]),
    "export below a file": (lambda run, tmp: (tmp / "file").write_text("x"),
                            ["export", "{run}", "{tmp}/file/exported"], ["file/exported: cannot be written", "is a file"]),
    "compare, metrics.json corrupt": (lambda run, tmp: (run / "metrics.json").write_text('{"metric'),
                                      ["compare", "{run}", "{run}"], ["metrics.json: unreadable or corrupt"]),
    "compare, metrics.json without metric": (lambda run, tmp: (run / "metrics.json").write_text('{"test": {}}'),
                                             ["compare", "{run}", "{run}"], ["metrics.json: no 'metric' entry"]),
    "compare, score not a number": (
        lambda run, tmp: (run / "metrics.json").write_text('{"metric": "macro_f1", "test": {"macro_f1": "high"}}'),
        ["compare", "{run}", "{run}"], ["metrics.json: test.macro_f1 is 'high', not a number"]),
}


@pytest.mark.parametrize("case", FINISHED_DAMAGE)
def test_finished_run_commands_on_bad_input(tmp_path: Path, run_dirs: dict[str, Path], case: str) -> None:
    damage, arguments, fragments = FINISHED_DAMAGE[case]
    run = tmp_path / "run"
    shutil.copytree(run_dirs["finished"], run)
    (tmp_path / "in.jsonl").write_text('{"text": "we use a model"}\n')
    damage(run, tmp_path)
    before = snapshot(tmp_path)
    result = CliRunner().invoke(cli, [a.format(run=run, tmp=tmp_path) for a in arguments])
    assert_one_line_error(result, *fragments)
    assert snapshot(tmp_path) == before


def test_predict_makes_a_missing_output_folder(tmp_path: Path, run_dirs: dict[str, Path]) -> None:
    (tmp_path / "in.jsonl").write_text('{"text": "we use a model"}\n')
    out = tmp_path / "new" / "folder" / "out.jsonl"
    result = CliRunner().invoke(cli, ["predict", str(run_dirs["finished"]), str(tmp_path / "in.jsonl"), "-o", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["prediction"] in json.loads((run_dirs["finished"] / "labels.json").read_text())


# --- Full or read-only disks, for real: a tmpfs or a read-only bind mount in a user and mount namespace.

def can_mount() -> bool:
    try:
        return subprocess.run(["unshare", "-Urm", "mount", "-t", "tmpfs", "tmpfs", "/mnt"],
                              capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


needs_mounts = pytest.mark.skipif(not can_mount(), reason="unprivileged user and mount namespaces (unshare -Urm) unavailable")


def in_namespace(mounts: str, command: list[str], cwd: Path, **variables: str) -> subprocess.CompletedProcess:
    """``command`` (tartan-fw arguments) after the shell ``mounts``, as root of a new user and mount namespace."""
    cli_command = " ".join(f"'{part}'" for part in [sys.executable, "-m", "tartan_fw.cli.main", *command])
    env = {**repo_env(), **variables}
    return subprocess.run(["unshare", "-Urm", "sh", "-c", f"set -e; {mounts}; exec {cli_command}"],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def read_only(folder: Path) -> str:
    return f"mount --bind '{folder}' '{folder}' && mount -o remount,bind,ro '{folder}'"


def assert_one_stderr_error(process: subprocess.CompletedProcess, *fragments: str) -> str:
    assert process.returncode == 2, process.stderr
    assert "Traceback" not in process.stderr and process.stdout == "", process.stderr
    last = process.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and all(f in last for f in fragments), process.stderr
    return last


@needs_mounts
def test_disk_full_during_a_run_leaves_a_resumable_run(tmp_path: Path, tiny) -> None:
    """512 KiB hold the run's start and its best model, not two checkpoints of ~450 KiB."""
    config = tmp_path / "experiment.json"
    config.write_text(json.dumps(tiny(max_steps=6, eval_every=3, checkpoint_every=2)))
    (tmp_path / "disk").mkdir()
    copy = tmp_path / "copy"
    mounts = f"mount -t tmpfs -o size=512k tmpfs '{tmp_path / 'disk'}'"
    script = (f"{mounts}; '{sys.executable}' -m tartan_fw.cli.main run '{config}' -s '{tmp_path / 'disk' / 'run'}' "
              f"--device cpu --quiet; code=$?; cp -a '{tmp_path / 'disk' / 'run'}' '{copy}'; exit $code")
    env = repo_env()
    process = subprocess.run(["unshare", "-Urm", "sh", "-c", script], capture_output=True, text=True, cwd=tmp_path,
                             env=env, timeout=300)
    assert_one_stderr_error(process, "cannot write (No space left on device)", "tartan-fw resume")
    hidden = [p.relative_to(copy) for p in copy.rglob(".*") if p.name != ".lock"]
    assert hidden == []  # no half-written temporary file
    assert json.loads((copy / "config.json").read_text()) == json.loads(config.read_text())
    # Moved to a disk with room, the run resumes to the end.
    config_path = copy / "config.json"
    resumed = CliRunner().invoke(cli, ["resume", str(copy), "--device", "cpu", "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    assert json.loads((copy / "metrics.json").read_text())["steps"] == 6 and config_path.exists()


@needs_mounts
def test_read_only_run_directory(tmp_path: Path, tiny) -> None:
    config = tmp_path / "experiment.json"
    config.write_text(json.dumps(tiny()))
    out = tmp_path / "run"
    out.mkdir()
    process = in_namespace(read_only(out), ["run", str(config), "-s", str(out), "--device", "cpu", "--quiet"], tmp_path)
    assert_one_stderr_error(process, f"{out}", "is read-only; choose a writable folder")
    assert list(out.iterdir()) == []


@needs_mounts
def test_read_only_cache(tmp_path: Path, tiny) -> None:
    config = tmp_path / "experiment.json"
    config.write_text(json.dumps(tiny()))
    cache = tmp_path / "cache"
    cache.mkdir()
    process = in_namespace(read_only(cache), ["run", str(config), "-s", str(tmp_path / "run"), "--device", "cpu",
                                              "--quiet"], tmp_path, TARTAN_CACHE=str(cache))
    assert_one_stderr_error(process, f"{cache}", "Read-only file system", "TARTAN_CACHE")
    assert list(cache.iterdir()) == [] and not (tmp_path / "run").exists()


@needs_mounts
def test_resume_on_a_read_only_disk_changes_nothing(tmp_path: Path, run_dirs: dict[str, Path]) -> None:
    run = tmp_path / "run"
    shutil.copytree(run_dirs["interrupted"], run)
    before = snapshot(run)
    process = in_namespace(read_only(run), ["resume", str(run), "--device", "cpu", "--quiet"], tmp_path)
    assert_one_stderr_error(process, "Read-only file system")
    assert snapshot(run) == before


@needs_mounts
@pytest.mark.parametrize("command", ["export", "predict"])
def test_export_and_predict_into_a_read_only_folder(tmp_path: Path, run_dirs: dict[str, Path], command: str) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    (tmp_path / "in.jsonl").write_text('{"text": "we use a model"}\n')
    arguments = {"export": ["export", str(run_dirs["finished"]), str(folder / "model")],
                 "predict": ["predict", str(run_dirs["finished"]), str(tmp_path / "in.jsonl"), "-o",
                             str(folder / "out.jsonl"), "--quiet"]}[command]
    process = in_namespace(read_only(folder), arguments, tmp_path)
    assert_one_stderr_error(process, f"{folder}", "is read-only; choose a writable folder")
    assert list(folder.iterdir()) == []


# --- Concurrent writers: an OS lock on the run directory; the second writer is refused, naming the holder.

def cli_process(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "tartan_fw.cli.main", *arguments]


def repo_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


def test_two_runs_started_together_into_one_directory(tmp_path: Path, tiny) -> None:
    config = tmp_path / "experiment.json"
    config.write_text(json.dumps(tiny(aux=(), max_steps=2, eval_every=2)))
    out = tmp_path / "run"
    processes = [subprocess.Popen(cli_process("run", str(config), "-s", str(out), "--seed", str(seed), "--device", "cpu",
                                              "--quiet"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=repo_env(), cwd=tmp_path) for seed in (1, 2)]
    results = [(seed, process.wait(timeout=300), process.stderr.read()) for seed, process in zip((1, 2), processes)]
    for process in processes:
        process.stdout.close()
        process.stderr.close()
    winners = [seed for seed, code, _ in results if code == 0]
    losers = [(code, err) for seed, code, err in results if code != 0]
    assert len(winners) == 1 and len(losers) == 1, results
    code, err = losers[0]
    assert code == 2 and "Traceback" not in err and err.count("\n") == 1, err
    assert "in use by another tartan-fw process (pid " in err or "run directory exists" in err, err
    assert json.loads((out / "config.json").read_text())["seed"] == winners[0]
    assert (out / "metrics.json").exists()


def test_a_live_run_refuses_force_resume_and_a_second_run(tmp_path: Path, tiny) -> None:
    from tartan_fw.common.locking import lock_folder

    config = tmp_path / "experiment.json"
    config.write_text(json.dumps(tiny(aux=(), max_steps=100_000, checkpoint_every=None)))
    out = tmp_path / "run"
    holder = subprocess.Popen(cli_process("run", str(config), "-s", str(out), "--device", "cpu", "--quiet"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=repo_env(), cwd=tmp_path)
    try:
        deadline = time.monotonic() + 240
        while not ((out / "config.json").exists() and (out / ".lock").exists()
                   and (out / ".lock").read_text().strip() == str(holder.pid)):
            assert holder.poll() is None and time.monotonic() < deadline, "the first run did not start"
            time.sleep(0.2)
        started = (out / "config.json").read_bytes()
        for arguments in (["run", str(config), "-s", str(out), "--force"], ["resume", str(out)],
                          ["run", str(config), "-s", str(out), "--resume"]):
            result = CliRunner().invoke(cli, [*arguments, "--device", "cpu", "--quiet"])
            assert_one_line_error(result, f"in use by another tartan-fw process (pid {holder.pid})", "choose another")
        assert holder.poll() is None and (out / "config.json").read_bytes() == started  # the live run goes on
    finally:
        holder.kill()
        holder.wait()
    lock_folder(out)  # the kernel released the killed holder's lock


# --- --force replaces a run directory only.

def make_user_folder(tmp: Path, finished: Path) -> tuple[Path, Path]:
    folder = tmp / "d"
    folder.mkdir()
    (folder / "notes.txt").write_text("hi\n")
    return folder, tmp


def make_run_with_notes(tmp: Path, finished: Path) -> tuple[Path, Path]:
    shutil.copytree(finished, tmp / "run")
    (tmp / "run" / "notes.txt").write_text("hi\n")
    return tmp / "run", tmp


def make_run_with_a_subfolder(*names: str) -> Callable[[Path, Path], tuple[Path, Path]]:
    """A run holding the user's folder ``my_notes/`` with files named as a run names its own (or none)."""
    def make(tmp: Path, finished: Path) -> tuple[Path, Path]:
        shutil.copytree(finished, tmp / "run")
        (tmp / "run" / "my_notes").mkdir()
        for name in names:
            (tmp / "run" / "my_notes" / name).write_text("mine\n")
        return tmp / "run", tmp
    return make


def make_cwd_run(tmp: Path, finished: Path) -> tuple[Path, Path]:
    shutil.copytree(finished, tmp / "run")
    return Path("."), tmp / "run"


def make_parent_of_cwd(tmp: Path, finished: Path) -> tuple[Path, Path]:
    shutil.copytree(finished, tmp / "run")
    return Path(".."), tmp / "run" / "model"


FORCE_REFUSED = {
    "a folder that is no run": (make_user_folder, "not a tartan-fw run directory (no config.json)"),
    "a run with a user's file": (make_run_with_notes, "holds files no run writes (notes.txt)"),
    "a run with a user's subfolder": (make_run_with_a_subfolder("log.txt", ".lock"), "(my_notes)"),
    "a run with a user's empty subfolder": (make_run_with_a_subfolder(), "(my_notes)"),
    "the working directory": (make_cwd_run, "--force would delete the working directory or a folder above it"),
    "a folder above the working directory": (make_parent_of_cwd, "--force would delete the working directory"),
}


@pytest.mark.parametrize("case", FORCE_REFUSED)
def test_force_refuses_what_is_not_a_run_directory(tmp_path: Path, tiny, run_dirs: dict[str, Path],
                                                   monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    make, fragment = FORCE_REFUSED[case]
    config = tmp_path / "experiment.json"
    config.write_text(json.dumps(tiny(aux=(), max_steps=1, eval_every=1)))
    target, cwd = make(tmp_path, run_dirs["finished"])
    monkeypatch.chdir(cwd)
    before = snapshot(tmp_path)
    result = CliRunner().invoke(cli, ["run", str(config), "-s", str(target), "--force", "--device", "cpu", "--quiet"])
    assert_one_line_error(result, fragment, "-s")
    assert snapshot(tmp_path) == before


def test_force_replaces_a_run_directory(tmp_path: Path, tiny, run_dirs: dict[str, Path]) -> None:
    config = tmp_path / "experiment.json"
    config.write_text(json.dumps(tiny(aux=(), max_steps=1, eval_every=1)))
    run = tmp_path / "run"
    shutil.copytree(run_dirs["finished"], run)
    result = CliRunner().invoke(cli, ["run", str(config), "-s", str(run), "--force", "--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    assert json.loads((run / "metrics.json").read_text())["steps"] == 1


# --- Signals before training starts: one line and the signal's exit code.

def test_sigterm_during_start_up(tmp_path: Path, tiny) -> None:
    config = tmp_path / "experiment.json"
    config.write_text(json.dumps(tiny()))
    out = tmp_path / "run"
    process = subprocess.Popen(cli_process("run", str(config), "-s", str(out), "--device", "cpu", "--quiet"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=repo_env(), cwd=tmp_path)
    wait_until_catching(process, signal.SIGTERM)  # the handler is up; torch, data and tokenizer are still loading
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr
    assert stderr.startswith("SIGTERM received outside training") and stderr.count("\n") == 1, stderr
    assert stdout == "" and not out.exists()


# --- Usage errors (click's parsing): one line naming the command, what is wrong and where the help is.

@pytest.mark.parametrize("arguments, command, fragment", [
    (["run", "x.jsonnet", "--forcee"], "run", "No such option '--forcee'. (Did you mean one of: '--force'"),
    (["run"], "run", "Missing argument 'CONFIG_FILE'"),
    (["run", "x.jsonnet", "--threads", "0"], "run", "Invalid value for '--threads': 0 is not in the range x>=1"),
    (["run", "x.jsonnet", "--seed", "-1"], "run", "Invalid value for '--seed': -1 is not in the range 0<=x<=4294967295"),
    (["evaluate", "runs/x", "--split", "train"], "evaluate", "Invalid value for '--split': 'train' is not one of"),
    (["data", "fetch"], "data fetch", "Missing argument"),
    (["frobnicate"], "", "No such command 'frobnicate'"),
    (["--bogus", "list"], "", "No such option '--bogus'"),
])
def test_usage_errors_are_one_line(arguments: list[str], command: str, fragment: str) -> None:
    result = CliRunner().invoke(cli, arguments, prog_name="tartan-fw")
    assert result.exit_code == 2, result.output
    path = f"tartan-fw {command}".strip()
    assert result.output.count("\n") == 1 and "Usage:" not in result.output, result.output
    assert result.output.startswith(f"error: {path}: {fragment}"), result.output
    assert result.output.rstrip().endswith(f"(see '{path} --help')"), result.output


def test_help_and_a_bare_group_still_show_the_help() -> None:
    assert "Usage: tartan-fw run" in CliRunner().invoke(cli, ["run", "--help"], prog_name="tartan-fw").output
    bare = CliRunner().invoke(cli, ["data"], prog_name="tartan-fw")
    assert "Usage: tartan-fw data" in bare.output and "fetch" in bare.output


def test_a_usage_error_from_the_real_command_is_one_stderr_line(tmp_path: Path) -> None:
    process = subprocess.run(cli_process("evaluate"), check=False, capture_output=True, text=True, env=repo_env(),
                             cwd=tmp_path, timeout=60)
    assert process.returncode == 2 and process.stdout == ""
    assert process.stderr.count("\n") == 1 and "Missing argument 'RUN_DIR'" in process.stderr, process.stderr
