"""The corpus-reading aux tasks share CorpusTask, yet each still declares its config parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

from tartan_fw.common.from_config import constructor_parameters
from tartan_fw.plugins import load_plugins
from tartan_fw.tasks import AuxTask, CorpusTask

load_plugins(plugin_folder=Path(__file__).resolve().parents[1] / "plugins")


@pytest.mark.parametrize("name", ["mlm", "nsp", "random_labels", "rtd"])
def test_corpus_task_lists_the_shared_parameters_as_its_own(name: str) -> None:
    task = AuxTask.by_name(name)
    assert issubclass(task, CorpusTask)
    defaults = {parameter: default for parameter, _, default in constructor_parameters(task)}
    assert {"name", "corpus"} <= defaults.keys()
    assert defaults["reader"] is None and defaults["batch_size"] == 16
