"""Durable files: atomic writes reach the disk (file and folder fsynced) with the umask's mode, a failed
write leaves the old file, the run-directory lock is the process's, and the data root's order."""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tartan_fw.common import files
from tartan_fw.common.files import atomic_write_text
from tartan_fw.common.locking import lock_folder
from tartan_fw.errors import StorageError
from tartan_fw.training.checkpoint import TrainingCheckpoint, save_end_task_model

REPO = Path(__file__).resolve().parents[1]


def test_an_atomic_write_fsyncs_the_file_then_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real = os.fsync

    def recording(descriptor: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{descriptor}"))
        real(descriptor)

    monkeypatch.setattr(files.os, "fsync", recording)
    atomic_write_text(tmp_path / "config.json", "{}\n")
    assert len(synced) == 2
    assert Path(synced[0]).parent == tmp_path and Path(synced[0]).name.startswith(".config.json.")  # before the rename
    assert synced[1] == str(tmp_path)  # the rename itself
    assert (tmp_path / "config.json").read_text() == "{}\n"


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_take_the_umasks_mode(tmp_path: Path, umask: int, mode: int) -> None:
    previous = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "metrics.json", "{}\n")
        save_end_task_model(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1), tmp_path / "best" / "model.safetensors")
        TrainingCheckpoint(tmp_path / "checkpoint").save({"w": torch.zeros(2)}, {"step": 1}, 1)
    finally:
        os.umask(previous)
    folder = TrainingCheckpoint(tmp_path / "checkpoint").folder()
    for path in (tmp_path / "metrics.json", tmp_path / "best" / "model.safetensors", folder / "model.safetensors",
                 folder / "state.pt", tmp_path / "checkpoint" / "latest"):
        assert stat.S_IMODE(path.stat().st_mode) == mode, path
    assert stat.S_IMODE(folder.stat().st_mode) == 0o777 & ~umask


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "metrics.json"
    atomic_write_text(target, "old\n")

    def full(self: files._RecordingFile, data: bytes) -> int:
        self.error = OSError(errno.ENOSPC, "No space left on device")
        raise self.error

    monkeypatch.setattr(files._RecordingFile, "write", full)
    with pytest.raises(StorageError, match=rf"{target}: cannot write \(No space left on device\)"):
        atomic_write_text(target, "new\n")
    assert target.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_the_lock_is_the_processs_and_refuses_another(tmp_path: Path) -> None:
    run = tmp_path / "run"
    lock_folder(run)
    lock_folder(run)  # again in the same process: fine
    probe = ("import sys; from pathlib import Path; from tartan_fw.common.locking import lock_folder\n"
             "from tartan_fw.errors import RunLocked\n"
             "try:\n    lock_folder(Path(sys.argv[1]))\nexcept RunLocked as err:\n    print(err)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    other = subprocess.run([sys.executable, "-c", probe, str(run)], capture_output=True, text=True, env=env, timeout=60)
    assert other.stdout.strip() == (f"{run.resolve()}: in use by another tartan-fw process (pid {os.getpid()}); wait "
                                    f"for it to end or stop it, or choose another run directory with -s"), other.stderr


def test_a_configs_data_root_wins_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tartan_fw.data.root import DataRoot

    monkeypatch.setenv("TARTAN_DATA", str(tmp_path / "from-env"))
    assert DataRoot(str(tmp_path / "from-config")).path == tmp_path / "from-config"
    assert DataRoot(None).path == tmp_path / "from-env"
    monkeypatch.delenv("TARTAN_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert DataRoot(None).path == tmp_path / "cache" / "tartan_fw" / "data"


def test_read_json_names_a_damaged_file(tmp_path: Path) -> None:
    from tartan_fw.common.files import read_json
    from tartan_fw.errors import TartanError

    (tmp_path / "ext_vars.json").write_text(json.dumps({"aux": "tapt"}))
    assert read_json(tmp_path / "ext_vars.json", "fix it") == {"aux": "tapt"}
    (tmp_path / "ext_vars.json").write_bytes(b"\xff\xfe")
    with pytest.raises(TartanError, match="ext_vars.json: unreadable or corrupt .*; fix it"):
        read_json(tmp_path / "ext_vars.json", "fix it")
