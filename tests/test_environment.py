"""The environment record: what made a run, with the git commit only where there is a checkout."""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from tartan_fw import __version__
from tartan_fw.environment import CHECKOUT, environment_record, git_commit


def test_outside_a_checkout_there_is_no_commit_and_no_failure(tmp_path: Path) -> None:
    assert git_commit(tmp_path) is None
    (tmp_path / ".git").write_text("gitdir: /nowhere\n")  # a broken worktree pointer: git fails, the record does not
    assert git_commit(tmp_path) is None


def test_a_session_records_code_libraries_device_and_threads() -> None:
    record = json.loads(json.dumps(environment_record("start", torch.device("cpu"))))  # JSON as written
    assert record["event"] == "start" and record["tartan_fw"] == __version__
    assert record["libraries"]["torch"] == torch.__version__ and {"transformers", "datasets"} <= set(record["libraries"])
    assert record["device"] == "cpu" and record["threads"] == torch.get_num_threads()
    if (CHECKOUT / ".git").exists():  # the tests run from a checkout, or from an installed package
        assert re.fullmatch(r"[0-9a-f]{40}", record["git"]["commit"])
