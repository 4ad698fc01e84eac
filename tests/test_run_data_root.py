"""A run remembers its data root: evaluate and predict work later from any folder or shell, an explicit
``--data-root`` or ``$TARTAN_DATA`` still wins, and a root that has moved is one line saying what to do."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import invoke, tiny_config, write_tiny_task


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny run trained with ``TARTAN_DATA`` set and no ``data_root`` in its config (trained once)."""
    folder = tmp_path_factory.mktemp("remembered")
    root = folder / "data"
    write_tiny_task(root)
    config = tiny_config(root, aux=(), max_steps=2, eval_every=2)
    del config["data_root"]
    (folder / "tiny.json").write_text(json.dumps(config))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TARTAN_CACHE", str(folder / "cache"))
        patch.setenv("TARTAN_DATA", str(root))
        patch.chdir(folder)
        result = invoke("run", "tiny.json", "-s", "run", "--device", "cpu", "--quiet")
        assert result.exit_code == 0, result.output
    return folder / "run"


@pytest.fixture
def elsewhere(trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Another shell: no TARTAN_DATA, another working folder; a copy of the run to change freely."""
    monkeypatch.setenv("TARTAN_CACHE", str(trained.parent / "cache"))
    monkeypatch.delenv("TARTAN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))  # the default root: empty
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    return run


def evaluated(run: Path, *extra: str) -> dict:
    result = invoke("evaluate", str(run), "--device", "cpu", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_the_run_records_its_data_root(trained: Path) -> None:
    record = json.loads((trained / "data_root.json").read_text())
    assert record == {"data_root": str((trained.parent / "data").resolve())}
    assert "data_root" not in json.loads((trained / "config.json").read_text())  # the config stays as written


def test_evaluate_and_predict_from_another_shell_use_the_recorded_root(elsewhere: Path, trained: Path) -> None:
    metrics = json.loads((trained / "metrics.json").read_text())
    scores = evaluated(elsewhere)
    assert {k: scores[k] for k in metrics["test"]} == metrics["test"]
    (elsewhere.parent / "in.jsonl").write_text('{"text": "we use the algorithm"}\n')
    predicted = invoke("predict", str(elsewhere), "in.jsonl", "--device", "cpu", "--quiet")
    assert predicted.exit_code == 0, predicted.output
    assert json.loads(predicted.output)["prediction"] in json.loads((trained / "labels.json").read_text())


def test_an_explicit_root_wins_and_a_moved_root_says_what_to_do(elsewhere: Path, trained: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    moved = tmp_path / "moved"
    shutil.copytree(trained.parent / "data", moved)
    record = elsewhere / "data_root.json"
    gone = tmp_path / "gone"
    record.write_text(json.dumps({"data_root": str(gone)}))

    result = invoke("evaluate", str(elsewhere), "--device", "cpu")
    assert result.exit_code == 2
    assert result.output == (f"error: {gone}: the run's data root (recorded in {record}) no longer exists; pass "
                             f"--data-root DIR or set TARTAN_DATA to read the data from where it is now\n")
    expected = json.loads((trained / "metrics.json").read_text())["test"]
    assert evaluated(elsewhere, "--data-root", str(moved))["macro_f1"] == expected["macro_f1"]
    monkeypatch.setenv("TARTAN_DATA", str(moved))
    assert evaluated(elsewhere)["macro_f1"] == expected["macro_f1"]
    monkeypatch.setenv("TARTAN_DATA", str(tmp_path / "empty"))  # the environment wins over the record
    result = invoke("evaluate", str(elsewhere), "--device", "cpu")
    assert result.exit_code == 2 and str(tmp_path / "empty" / "tiny") in result.output, result.output


def test_a_damaged_record_is_one_line(elsewhere: Path) -> None:
    (elsewhere / "data_root.json").write_text('["not", "a", "record"]')
    result = invoke("evaluate", str(elsewhere), "--device", "cpu")
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert result.output.startswith(f"error: {elsewhere / 'data_root.json'}: expected") and "--data-root" in result.output


def test_a_run_without_the_record_reads_as_before(elsewhere: Path, trained: Path, monkeypatch) -> None:
    (elsewhere / "data_root.json").unlink()
    result = invoke("evaluate", str(elsewhere), "--device", "cpu")
    assert result.exit_code == 2 and "home-cache/tartan_fw/data/tiny" in result.output, result.output
    monkeypatch.setenv("TARTAN_DATA", str(trained.parent / "data"))
    assert evaluated(elsewhere)["split"] == "test"


def test_a_config_data_root_still_wins_over_the_environment(elsewhere: Path, trained: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    config = json.loads((elsewhere / "config.json").read_text())
    config["data_root"] = "data"  # relative to the folder it was trained in: the record has it absolute
    (elsewhere / "config.json").write_text(json.dumps(config))
    monkeypatch.setenv("TARTAN_DATA", str(tmp_path / "empty"))
    assert evaluated(elsewhere)["split"] == "test"
    (elsewhere / "data_root.json").write_text(json.dumps({"data_root": str(tmp_path / "gone")}))
    result = invoke("evaluate", str(elsewhere), "--device", "cpu")
    assert result.exit_code == 2 and "no longer exists; pass --data-root DIR to read" in result.output, result.output


def test_resume_from_another_shell_reads_the_recorded_root(elsewhere: Path, trained: Path) -> None:
    (elsewhere / "metrics.json").unlink()  # unfinished, as a run stopped before its end would be
    result = invoke("resume", str(elsewhere), "--device", "cpu", "--quiet")
    assert result.exit_code == 0, result.output
    resumed = json.loads((elsewhere / "metrics.json").read_text())
    assert resumed["test"] == json.loads((trained / "metrics.json").read_text())["test"]
