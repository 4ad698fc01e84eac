"""Plugins: the tutorials in docs/tutorials/ run as written; discovery three ways; both errors."""

from __future__ import annotations

import json
import re
import shutil
import sys
import textwrap
from collections import defaultdict
from pathlib import Path

import pytest
import torch

from conftest import REAL_DATA, REPO, assert_one_line_error, invoke, needs_real_data

BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)
# The plugin tutorials, each a page of the documentation site; their code blocks are run as written.
TUTORIALS = ("aux-task.md", "callback.md", "weighter.md")


def tutorial_files() -> dict[str, str]:
    """The tutorials' code blocks whose first line names a file (``# path`` or ``// path``), joined per file."""
    files: dict[str, list[str]] = defaultdict(list)
    pages = "\n".join((REPO / "docs" / "tutorials" / page).read_text() for page in TUTORIALS)
    for _, code in BLOCK.findall(pages):
        first, _, rest = code.partition("\n")
        match = re.fullmatch(r"(?:#|//) ((?:plugins|experiments)/\S+)", first.strip())
        if match:
            files[match.group(1)].append(rest)
    return {path: "\n\n".join(parts) for path, parts in files.items()}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry) -> Path:
    """An empty project directory as the working directory, with plugin registrations undone afterwards."""
    folder = tmp_path / "project"
    folder.mkdir()
    monkeypatch.chdir(folder)
    # A fresh import state: the repository's own plugins/ (imported by other test modules) and the folders
    # earlier tests put on the path would otherwise answer for this project's ``plugins``.
    monkeypatch.setattr(sys, "path", list(sys.path))
    for name in [m for m in sys.modules if m == "plugins" or m.startswith("plugins.")]:
        monkeypatch.delitem(sys.modules, name)
    return folder


def write_plugin(path: Path, name: str, body: str = "") -> Path:
    """A module registering an aux task ``name`` (plus ``body``, e.g. code that fails)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(f"""
        from tartan_fw.tasks import AuxTask
        {body}

        @AuxTask.register("{name}")
        class PluginTask(AuxTask):
            \"\"\"A task registered by a test plugin.\"\"\"
    """))
    return path


def write_tutorial(project: Path, files: dict[str, str]) -> None:
    shutil.copytree(REPO / "experiments", project / "experiments")
    for path, code in files.items():
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(code)


@needs_real_data
def test_tutorial_code_runs_as_written(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = tutorial_files()
    assert set(files) == {"plugins/word_order.py", "experiments/word_order.jsonnet", "plugins/class_f1.py",
                          "experiments/class_f1.jsonnet", "plugins/and_mask.py"}
    write_tutorial(project, {p: c for p, c in files.items() if "word_order" in p})
    monkeypatch.setenv("TARTAN_DATA", str(REAL_DATA))

    listed = invoke("list", "aux_task", "--include-package", "plugins.word_order")
    assert listed.exit_code == 0 and "word_order" in listed.output, listed.output
    validated = invoke("validate", "experiments/word_order.jsonnet")
    assert validated.exit_code == 0, validated.output

    small = ["--ext-var", "model=scratch", "-o", "trainer.max_steps=2", "-o", "trainer.eval_every=2", "-o", "body.hidden_size=32",
             "-o", "body.num_layers=1", "-o", "body.intermediate_size=64", "-o", "body.vocab_size=300",
             "-o", "body.max_length=48"]
    result = invoke("run", "experiments/word_order.jsonnet", "-s", "runs/word_order", "--device", "cpu",
                    "--quiet", *small)
    assert result.exit_code == 0, result.output
    metrics = json.loads((project / "runs" / "word_order" / "metrics.json").read_text())
    assert metrics["tokens"]["multitask/word_order"] > 0

    from plugins.word_order import WordOrderTask
    from tartan_fw.common.from_config import build
    from tartan_fw.data.root import DataRoot
    from tartan_fw.experiment import Experiment

    config = json.loads((project / "runs" / "word_order" / "config.json").read_text())
    experiment = build(Experiment, config)
    body = experiment.body.construct(data_root=DataRoot(REAL_DATA))
    task = experiment.aux_tasks[-1].construct(body=body, data_root=DataRoot(REAL_DATA), seed=0)
    assert isinstance(task, WordOrderTask) and task.reader.min_words == 8
    batch = task.collate(task.stream.next())
    shuffled = batch["labels"].bool()
    assert 0 < int(shuffled.sum()) < len(shuffled)
    originals = [task.texts[i] for i in range(len(task.texts))]
    for row, label in zip(batch["input_ids"], shuffled.tolist()):
        tokens = row[row.ne(task.pad_id)]
        unchanged = any(len(o) == len(tokens) and bool((o == tokens).all()) for o in originals)
        assert unchanged != label


def test_a_plugins_folder_nobody_named_is_never_imported(project: Path, tiny) -> None:
    """Running tartan-fw inside someone else's checkout must not run the code of its ``plugins/``."""
    write_plugin(project / "plugins" / "__init__.py", "package", body="raise RuntimeError('imported unasked')")
    write_plugin(project / "plugins" / "theirs.py", "theirs", body="raise RuntimeError('imported unasked')")
    (project / "exp.json").write_text(json.dumps(tiny()))
    for command in (["list", "aux_task"], ["validate", "exp.json"]):
        result = invoke(*command)
        assert result.exit_code == 0 and "theirs" not in result.output, result.output
    assert not [m for m in list(sys.modules.values()) if str(getattr(m, "__file__", None) or "").startswith(str(project))]

    named = invoke("--include-package", "plugins.theirs", "list", "aux_task")
    assert_one_line_error(named, "plugin 'plugins.theirs' failed to import", "imported unasked")


def test_the_projects_own_plugins_load_when_named(project: Path) -> None:
    write_plugin(project / "plugins" / "folder_plugin.py", "from_folder")
    result = invoke("--include-package", "plugins.folder_plugin", "list", "aux_task")
    assert result.exit_code == 0 and "from_folder" in result.output, result.output


def test_include_package_and_config_include(project: Path, tiny) -> None:
    write_plugin(project / "cli_plugin.py", "from_cli")
    result = invoke("--include-package", "cli_plugin", "list", "aux_task")
    assert result.exit_code == 0 and "from_cli" in result.output, result.output
    write_plugin(project / "after_plugin.py", "after_cli")
    result = invoke("list", "aux_task", "--include-package", "after_plugin")  # AllenNLP's order
    assert result.exit_code == 0 and "after_cli" in result.output, result.output
    write_plugin(project / "equals_plugin.py", "equals_cli")
    result = invoke("list", "--include-package=equals_plugin", "aux_task")
    assert result.exit_code == 0 and "equals_cli" in result.output, result.output

    write_plugin(project / "config_plugin.py", "from_config")
    config = tiny(aux=())
    config["aux_tasks"] = [{"type": "from_config", "name": "x", "batch_size": 2}]
    (project / "exp.json").write_text(json.dumps(config))
    unknown = invoke("validate", "exp.json")
    assert "unknown aux_task 'from_config'" in unknown.output and "plugins loaded" in unknown.output
    config["include"] = ["config_plugin"]
    (project / "exp.json").write_text(json.dumps(config))
    result = invoke("validate", "exp.json")
    assert result.exit_code == 0 and "exp.json: ok" in result.output, result.output


def test_entry_point_of_an_installed_distribution(project: Path, tmp_path: Path, monkeypatch) -> None:
    site = tmp_path / "site"
    write_plugin(site / "ep_plugin_module.py", "from_entry_point")
    info = site / "ep_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[tartan_fw.plugins]\nmine = ep_plugin_module\n")
    monkeypatch.syspath_prepend(str(site))
    result = invoke("list", "aux_task")
    assert result.exit_code == 0 and "from_entry_point" in result.output, result.output
    from tartan_fw.plugins import loaded_plugins

    assert "ep_plugin_module" in loaded_plugins()


def test_a_plugin_that_fails_to_import_is_named_with_the_cause(project: Path) -> None:
    write_plugin(project / "plugins" / "broken.py", "broken", body="import no_such_module_anywhere")
    result = invoke("--include-package", "plugins.broken", "list")
    assert_one_line_error(result, "plugin 'plugins.broken'", "failed to import", "ModuleNotFoundError",
                          "no_such_module_anywhere")

    (project / "plugins" / "broken.py").write_text("def oops(:\n")
    assert_one_line_error(invoke("--include-package", "plugins.broken", "list"), "plugin 'plugins.broken'", "SyntaxError")


def test_a_plugin_taking_a_registered_name_names_both(project: Path, tiny) -> None:
    write_plugin(project / "plugins" / "clash.py", "mlm")
    (project / "exp.json").write_text(json.dumps({**tiny(), "include": ["plugins.clash"]}))
    result = invoke("validate", "exp.json")
    assert_one_line_error(result, "plugin 'plugins.clash'", "cannot register plugins.clash.PluginTask as aux_task 'mlm'",
                          "taken by tartan_fw.tasks.masked_lm.MaskedLMTask")


@needs_real_data
def test_callback_tutorial_logs_each_class_f1_at_every_evaluation(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sklearn.metrics import f1_score
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    write_tutorial(project, {p: c for p, c in tutorial_files().items() if "class_f1" in p})
    monkeypatch.setenv("TARTAN_DATA", str(REAL_DATA))
    listed = invoke("list", "callback", "--include-package", "plugins.class_f1")
    assert listed.exit_code == 0 and "per_class_f1" in listed.output, listed.output

    small = ["--ext-var", "model=scratch", "-o", "trainer.max_steps=4", "-o", "trainer.eval_every=2",
             "-o", "body.hidden_size=32",
             "-o", "body.num_layers=1", "-o", "body.intermediate_size=64", "-o", "body.vocab_size=300",
             "-o", "body.max_length=48", "--ext-var", "aux=tapt",
             "-o", "trainer.finetune.max_steps=2", "-o", "trainer.finetune.eval_every=2"]
    out = project / "runs" / "class_f1"
    result = invoke("run", "experiments/class_f1.jsonnet", "-s", str(out), "--device", "cpu", "--quiet", *small)
    assert result.exit_code == 0, result.output

    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    labels = json.loads((out / "labels.json").read_text())
    per_class = {label: events.Scalars(f"eval/f1/{label}") for label in labels}
    # Two evaluations in the multitask stage, one in the final fine-tuning stage.
    assert all([e.step for e in logged] == [2, 4, 6] for logged in per_class.values())
    for index, macro in enumerate(events.Scalars("eval/macro_f1")):  # macro-F1 is the mean over the classes
        assert macro.value == pytest.approx(sum(logged[index].value for logged in per_class.values()) / len(labels))

    # The best checkpoint's dev predictions give the scores logged at its step.
    from tartan_fw.runner import load_run

    best_step = json.loads((out / "metrics.json").read_text())["best_step"]
    evaluation = load_run(out, torch.device("cpu")).evaluate("dev")
    expected = f1_score(evaluation.gold.numpy(), evaluation.predicted.numpy(), labels=list(range(len(labels))),
                        average=None, zero_division=0)
    logged = [next(e.value for e in per_class[label] if e.step == best_step) for label in labels]
    assert logged == pytest.approx(expected.tolist(), abs=1e-6)
