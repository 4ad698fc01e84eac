"""Data parallel over two gloo processes launched by torchrun: ranks stay identical and match one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import slurm_cluster_up

from tartan_fw.errors import TartanError
from tartan_fw.runner import run_experiment
from tartan_fw.training.distributed import DataParallel
from tartan_fw.training.trainer import StageLoop

# A plugin that records, per rank, the weights every stage ends with and the weighter's task weights.
PROBE = '''
import os
import torch
from tartan_fw.training.trainer import StageLoop

_train = StageLoop.train


def train(self):
    summary = _train(self)
    tensors = {f"body.{k}": v for k, v in self.run.body.state_dict().items()}
    tensors.update({f"{t.name}.{k}": v for t in self.tasks for k, v in t.head.state_dict().items()})
    probe = {"tensors": {k: v.detach().clone() for k, v in tensors.items()}, "weights": self.weighter.weights().clone()}
    torch.save(probe, os.path.join(os.environ["PROBE_DIR"], f"{self.name}-rank{os.environ.get('RANK', '0')}.pt"))
    return summary


StageLoop.train = train
'''


def meta_config(tiny: Any) -> dict[str, Any]:
    """META-TARTAN with its meta head fitted on a stream of train batches, drawn alike on every rank."""
    config = tiny(max_steps=4, eval_every=2, checkpoint_every=2)
    config["weighter"] = {"type": "meta", "meta_batch_size": 4, "dev_batch_size": 5, "meta_source": "train"}
    return config


def launch(arguments: list[str], environment: dict[str, str], folder: Path) -> None:
    """Two processes on one node through docs' multi-node launcher line (tools/slurm/multinode.sbatch: srun, then
    torchrun with c10d rendezvous) on the Slurm cluster; where none runs (and not in CI), ``torchrun --standalone``."""
    if slurm_cluster_up() or os.environ.get("CI"):
        environment = {**environment, "NPROC_PER_NODE": "2", "RDZV_PORT": str(free_port()),
                       "PATH": os.pathsep.join([str(Path(sys.executable).parent), environment["PATH"]])}
        command = ["sbatch", "--wait", "--nodes", "1", "--cpus-per-task", "2", "--output", str(folder / "job.log"),
                   str(Path(__file__).parents[1] / "tools" / "slurm" / "multinode.sbatch"), *arguments]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                   "-m", "tartan_fw.cli.main", *arguments]
    finished = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=280)
    log = (folder / "job.log").read_text() if (folder / "job.log").exists() else ""
    assert finished.returncode == 0, (finished.stderr + log)[-3000:]


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def probes(directory: Path, rank: str) -> dict[str, Any]:
    return torch.load(directory / f"multitask-{rank}.pt", weights_only=True)


def test_two_processes_train_identical_replicas_that_match_a_single_process(
    tmp_path: Path, tiny: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = meta_config(tiny)
    (tmp_path / "dp_probe.py").write_text(PROBE)
    config_file = tmp_path / "meta.json"
    config_file.write_text(json.dumps(config))
    single_probes, parallel_probes = tmp_path / "single-probes", tmp_path / "parallel-probes"
    single_probes.mkdir(), parallel_probes.mkdir()

    python_path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    environment = {**os.environ, "PYTHONPATH": python_path, "PROBE_DIR": str(parallel_probes), "OMP_NUM_THREADS": "1"}
    arguments = ["--include-package", "dp_probe", "run", str(config_file), "-s", str(tmp_path / "parallel"),
                 "--device", "cpu", "--quiet"]
    launch(arguments, environment, tmp_path)

    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PROBE_DIR", str(single_probes))
    monkeypatch.setattr(StageLoop, "train", StageLoop.train)  # undone after the test, like the import
    import dp_probe  # noqa: F401  (the same recording, in this process)

    monkeypatch.delitem(sys.modules, "dp_probe")

    single = run_experiment(config, tmp_path / "single", torch.device("cpu"), show_progress=False)

    # Every rank applied the same all-reduced gradients and the same meta-learned weights: bitwise equal.
    rank0, rank1 = probes(parallel_probes, "rank0"), probes(parallel_probes, "rank1")
    assert torch.equal(rank0["weights"], rank1["weights"])
    assert all(torch.equal(rank0["tensors"][k], rank1["tensors"][k]) for k in rank0["tensors"])

    # Against one process on the whole batch: the same sums, added in another order (each rank sums
    # its half, then the halves are added), so the weights agree to float32 rounding compounded
    # over four Adam steps (measured: 3.5e-7 at most), and the metrics, read off an argmax, exactly.
    alone = probes(single_probes, "rank0")
    torch.testing.assert_close(rank0["weights"], alone["weights"], rtol=1e-5, atol=1e-6)
    for key, value in alone["tensors"].items():
        torch.testing.assert_close(rank0["tensors"][key], value, rtol=1e-4, atol=1e-5, msg=key)
    parallel = json.loads((tmp_path / "parallel" / "metrics.json").read_text())
    assert parallel["test"] == single.test and parallel["best_dev"] == single.best_dev
    assert parallel["tokens"] == single.tokens  # global batches: tokens counted once, not per rank

    # Rank 0 alone wrote the run directory.
    assert len(list((tmp_path / "parallel" / "tensorboard").glob("events.out.tfevents.*"))) == 1
    assert (tmp_path / "parallel" / "checkpoint" / "latest").exists()


def test_a_rank_takes_its_slice_of_any_batch_images_included() -> None:
    images = {"pixels": torch.arange(5 * 3).view(5, 3).float(), "labels": torch.arange(5), "num_targets": torch.tensor(5)}
    first, second = (DataParallel(rank, 2).shard(images) for rank in (0, 1))
    assert torch.equal(torch.cat([first["labels"], second["labels"]]), images["labels"])
    assert torch.equal(second["pixels"], images["pixels"][len(first["labels"]):])
    assert int(first["num_targets"]) == int(second["num_targets"]) == 5  # the global count, for the loss scale
    with pytest.raises(TartanError, match="a batch of 1 cannot be shared by 2 processes"):
        DataParallel(0, 2).shard({"pixels": torch.zeros(1, 3), "num_targets": torch.tensor(1)})
