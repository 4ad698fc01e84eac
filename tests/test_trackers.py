"""Trackers (``trainer.report_to``): MLflow and W&B written for real (a local file store, W&B offline) and
read back with their own code; the same scalars under the same tags as TensorBoard; a plugin's tracker."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator, Optional

import pytest

from conftest import invoke, tiny_config, write_tiny_task
from tartan_fw.errors import ConfigurationError
from tartan_fw.training.callbacks import Callback
from tartan_fw.training.trackers import Tracker
from tartan_fw.training.trackers.base import final_metrics

REPO = Path(__file__).resolve().parents[1]


class Recording(Tracker):
    """A plugin's tracker: remembers every call of the contract."""

    package, extra = "json", "none"
    calls: list[tuple[str, Any]] = []

    def start(self, directory: Path, run_id: Optional[str]) -> str:
        self.calls.append(("start", run_id))
        return "recorded"

    def log_params(self, params: dict[str, Any]) -> None:
        self.calls.append(("params", params))

    def log_scalars(self, values: dict[str, float], step: int) -> None:
        self.calls.append(("scalars", (dict(values), step)))

    def log_final(self, metrics: dict[str, float]) -> None:
        self.calls.append(("final", metrics))

    def close(self, finished: bool) -> None:
        self.calls.append(("close", finished))


def tensorboard_scalars(directory: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(directory))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def wandb_records(path: Path) -> Iterator[Any]:
    """The records of an offline run's ``.wandb`` file: W&B's header, then LevelDB-log blocks of 32 KiB whose
    chunks (7-byte header: checksum, length, type full/first/middle/last) hold ``wandb_internal_pb2.Record``s."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    ident, magic, version = struct.unpack("<4sHB", data[:7])
    assert (ident, magic, version) == (b":W&B", 0xBEE1, 0)
    offset, pending = 7, b""
    while offset + 7 <= len(data):
        room = 32768 - offset % 32768
        if room < 7:
            offset += room
            continue
        _, length, kind = struct.unpack("<IHB", data[offset:offset + 7])
        if kind == 0:  # block padding
            offset += room
            continue
        pending += data[offset + 7:offset + 7 + length]
        offset += 7 + length
        if kind in (1, 4):  # a full record, or the last chunk of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """One tiny run reporting to TensorBoard, MLflow (a local file store), W&B (offline) and a plugin's tracker."""
    from tartan_fw import plugins
    from tartan_fw.common import registrable

    folder = tmp_path_factory.mktemp("tracked")
    write_tiny_task(folder / "data")
    config = folder / "tiny.json"
    config.write_text(json.dumps(tiny_config(folder / "data", aux=("tapt",), max_steps=4, eval_every=2,
                                             report_to=["tensorboard", "mlflow", "wandb", "recording"])))
    plugins.load_builtins()
    saved = registrable.snapshot()  # the registry fixture's isolation, for the module
    Callback.register("recording")(Recording)
    Recording.calls.clear()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("TARTAN_CACHE", str(folder / "cache"))
            patch.setenv("MLFLOW_TRACKING_URI", (folder / "mlruns").as_uri())
            patch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps the file store in maintenance mode
            patch.setenv("WANDB_MODE", "offline")
            patch.setenv("WANDB_DIR", str(folder))
            patch.setenv("WANDB_SILENT", "true")
            result = invoke("run", str(config), "-s", str(folder / "run"), "--device", "cpu", "--quiet")
            assert result.exit_code == 0, result.output
    finally:
        registrable.restore(saved)
    return SimpleNamespace(folder=folder, run=folder / "run", calls=list(Recording.calls),
                           tensorboard=tensorboard_scalars(folder / "run" / "tensorboard"))


def test_mlflow_holds_tensorboard_scalars_the_config_and_the_final_metrics(
    tracked: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    client = MlflowClient((tracked.folder / "mlruns").as_uri())
    [run] = client.search_runs([client.get_experiment_by_name("tartan-fw").experiment_id])
    assert run.info.run_name == "run" and run.info.status == "FINISHED"
    assert run.data.params["trainer.max_steps"] == "4" and run.data.params["aux_tasks.0.name"] == "tapt"
    metrics = json.loads((tracked.run / "metrics.json").read_text())
    assert run.data.metrics["test/macro_f1"] == pytest.approx(metrics["test"]["macro_f1"])
    assert run.data.metrics["best_dev/macro_f1"] == pytest.approx(metrics["best_dev"]["macro_f1"])
    final = final_metrics(metrics)
    assert {"test/macro_f1", "best_dev/macro_f1", "best_step", "steps"} <= set(final)
    assert set(run.data.metrics) == set(final) | set(tracked.tensorboard)
    assert {key: run.data.metrics[key] for key in final} == pytest.approx(final)
    for tag, points in tracked.tensorboard.items():
        history = [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, tag)]
        assert history == [(step, pytest.approx(value)) for step, value in points], tag


def test_wandb_offline_run_holds_tensorboard_scalars_the_config_and_the_final_metrics(tracked: SimpleNamespace) -> None:
    [run_file] = (tracked.folder / "wandb").glob("offline-run-*/run-*.wandb")
    history: dict[str, list[tuple[int, float]]] = {}
    config, summary = {}, {}
    for record in wandb_records(run_file):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            items = {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
            step = items.pop("_step")
            for tag, value in items.items():
                if not tag.startswith("_"):
                    history.setdefault(tag, []).append((step, value))
        elif kind == "config":
            config.update({item.key: json.loads(item.value_json) for item in record.config.update})
        elif kind == "summary":
            summary.update({item.key: json.loads(item.value_json) for item in record.summary.update})
    assert config["trainer.max_steps"] == 4 and config["aux_tasks.0.name"] == "tapt"
    metrics = json.loads((tracked.run / "metrics.json").read_text())
    assert summary["test/macro_f1"] == pytest.approx(metrics["test"]["macro_f1"])
    assert {key: summary[key] for key in final_metrics(metrics)} == pytest.approx(final_metrics(metrics))
    assert set(history) == set(tracked.tensorboard)
    for tag, points in tracked.tensorboard.items():
        assert history[tag] == [(step, pytest.approx(value)) for step, value in points], tag


def test_a_plugin_tracker_gets_the_contract_in_order(tracked: SimpleNamespace) -> None:
    names = [name for name, _ in tracked.calls]
    assert names[:2] == ["start", "params"] and names[-2:] == ["final", "close"]
    assert set(names[2:-2]) == {"scalars"}
    assert tracked.calls[-1] == ("close", True)
    logged: dict[str, list[tuple[int, float]]] = {}
    for name, payload in tracked.calls:
        if name == "scalars":
            for tag, value in payload[0].items():
                logged.setdefault(tag, []).append((payload[1], float(value)))
    assert logged == {tag: [(s, pytest.approx(v)) for s, v in points] for tag, points in tracked.tensorboard.items()}


def test_only_rank_zero_reports() -> None:  # a data-parallel run's other ranks open no tracker run
    from tartan_fw.training.distributed import DataParallel

    tracker = Recording()
    Recording.calls.clear()
    tracker.on_train_begin(SimpleNamespace(run=SimpleNamespace(parallel=DataParallel(rank=1, world_size=2))))
    tracker.finish({"test": {"macro_f1": 1.0}})
    assert Recording.calls == [] and not tracker.started


def test_tensorboard_is_left_out_when_not_listed(tiny, tmp_path: Path, registry) -> None:
    Callback.register("recording")(Recording)
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(tiny(aux=(), max_steps=2, eval_every=2, report_to=["recording"])))
    result = invoke("run", str(config), "-s", str(tmp_path / "run"), "--device", "cpu", "--quiet")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "run" / "tensorboard").exists()


@pytest.mark.parametrize(("report_to", "message"), [
    (["mlfow"], "report_to[0]: unknown callback 'mlfow' (did you mean 'mlflow'?"),
    (["checkpointing"], "'checkpointing' is a callback, not a tracker"),
    (["wandb", "wandb"], "each tracker may appear once; repeated: wandb"),
])
def test_report_to_names_registered_trackers_once(tiny, report_to: list[str], message: str) -> None:
    from tartan_fw.common.from_config import build
    from tartan_fw.training.trainer import Trainer

    with pytest.raises(ConfigurationError) as raised:
        build(Trainer, tiny()["trainer"] | {"report_to": report_to}, "trainer")
    assert message in str(raised.value)


def test_a_missing_tracker_package_is_one_line_naming_the_extra(tiny, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as when it is not installed: find_spec finds nothing
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(tiny(report_to=["mlflow"])))
    result = invoke("run", str(config), "-s", str(tmp_path / "run"), "--device", "cpu", "--quiet")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "pip install 'tartan-fw[mlflow]'" in lines[0], result.output


def test_tracker_packages_are_imported_only_when_asked_for(tiny) -> None:
    code = ("import sys, json; from tartan_fw.common.from_config import build; import tartan_fw.experiment; "
            "from tartan_fw.training.trainer import Trainer; build(Trainer, json.loads(sys.argv[1])); "
            "print(sorted(m for m in ('mlflow', 'wandb') if m in sys.modules))")
    trainer = tiny()["trainer"] | {"report_to": ["tensorboard", "mlflow", "wandb"]}
    shown = subprocess.run([sys.executable, "-c", code, json.dumps(trainer)], capture_output=True, text=True,
                           cwd=REPO, check=True)
    assert shown.stdout.strip() == "[]"
