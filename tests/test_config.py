"""Experiment files: Jsonnet with ext-var defaults, ``--overrides`` JSON and dotted ``-o`` settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tartan_fw.common.config import load_config, parse_assignment
from tartan_fw.errors import ConfigurationError, TartanError

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
QUICKSTART = EXPERIMENTS / "quickstart.jsonnet"


def test_ext_var_defaults_apply_when_not_given() -> None:
    config = load_config(QUICKSTART)
    assert config["trainer"]["max_steps"] == 300 and config["trainer"]["body_lr"] == 5e-5
    assert config["body"] == {"type": "huggingface", "model_name": "sentence-transformers/all-MiniLM-L6-v2",
                              "max_length": 64}
    control = load_config(EXPERIMENTS / "citation_intent_control_mt.jsonnet")  # keeps its documented defaults
    assert control["trainer"]["max_steps"] == 600 and control["body"]["type"] == "scratch"
    paper = load_config(EXPERIMENTS / "citation_intent_mt.jsonnet")
    assert paper["body"] == {"type": "huggingface", "model_name": "roberta-base", "max_length": 512}


def test_ext_vars_override_the_defaults() -> None:
    assert load_config(QUICKSTART, {"steps": "7"})["trainer"]["max_steps"] == 7
    paper = load_config(EXPERIMENTS / "citation_intent_mt.jsonnet", {"model": "scratch"})
    assert paper["body"]["type"] == "scratch"
    assert paper["body"]["tokenizer_corpora"] == ["citation_intent/train.txt", "citation_intent/domain.1xTAPT.txt"]


@pytest.mark.parametrize("experiment, ext_vars, fragment", [
    (QUICKSTART, {"steps": "abc"}, "--ext-var steps=abc: expected a number"),
    (QUICKSTART, {"steps": "1e"}, "--ext-var steps=1e: expected a number"),
    (EXPERIMENTS / "cpu" / "citation_intent_meta.jsonnet", {"weight_lr": "fast"},
     '--ext-var weight_lr=fast: expected a JSON value (a number, true, false, or a "quoted string")'),
    (EXPERIMENTS / "cpu" / "citation_intent_meta.jsonnet", {"weight_lr": ""}, "--ext-var weight_lr=: expected a JSON"),
])
def test_an_ext_var_of_the_wrong_form_is_named(experiment: Path, ext_vars: dict[str, str], fragment: str) -> None:
    """Not the JSON parser's offset into a value the user never sees as JSON."""
    with pytest.raises(TartanError) as err:
        load_config(experiment, ext_vars)
    assert fragment in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_undefined_ext_var_says_how_to_pass_it(tmp_path: Path) -> None:
    path = tmp_path / "needs.jsonnet"
    path.write_text("{ seed: std.parseJson(std.extVar('seed')) }\n")
    with pytest.raises(TartanError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}:1:") and "undefined external variable: seed" in message
    assert "--ext-var KEY=VALUE" in message and "\n" not in message
    assert load_config(path, {"seed": "3"}) == {"seed": 3}


def test_dotted_overrides_parse_json_values_and_index_lists() -> None:
    dotted = [
        ("trainer.max_steps", "12"),
        ("trainer.patience", "null"),
        ("aux_tasks.0.batch_size", "3"),
        ("aux_tasks.1.reader", '{"max_examples": 5}'),
        ("end_task.metric", "accuracy"),
        ("body.tokenizer_corpora", '["a.txt"]'),
        ("trainer.finetune", '{"max_steps": 2}'),
    ]
    config = load_config(QUICKSTART, {"model": "scratch", "aux": "tapt,dapt"}, dotted=dotted)
    assert config["trainer"]["max_steps"] == 12 and config["trainer"]["patience"] is None
    assert config["aux_tasks"][0]["batch_size"] == 3 and config["aux_tasks"][1]["batch_size"] == 16
    assert config["aux_tasks"][1]["reader"] == {"type": "text_lines", "max_examples": 5}
    assert config["end_task"]["metric"] == "accuracy"
    assert config["body"]["tokenizer_corpora"] == ["a.txt"]
    # An object merges into the object it replaces: the quickstart's fine-tune stage keeps its other settings.
    assert config["trainer"]["finetune"] == {"max_steps": 2, "eval_every": 100, "body_lr": 1e-3, "head_lr": 1e-3}
    assert config["trainer"]["eval_every"] == 100


@pytest.mark.parametrize(
    "dotted, message",
    [
        ("trainr.max_steps", "-o trainr.max_steps: 'trainr' matches nothing in the config (keys there: aux_tasks, body,"),
        ("trainer.schedule.x", "-o trainer.schedule.x: 'trainer.schedule' matches nothing in the config (keys there: body_lr,"),
        ("aux_tasks.1.batch_size", "-o aux_tasks.1.batch_size: '1' is not an index of a list of 1"),
        ("aux_tasks.first.batch_size", "-o aux_tasks.first.batch_size: 'first' is not an index of a list of 1"),
        ("seed.x", "-o seed.x: 'seed' matches nothing"),
        ("trainer.max_steps.x", "-o trainer.max_steps.x: 'trainer.max_steps' is a value, not an object"),
    ],
)
def test_an_override_that_matches_nothing_names_the_key(dotted: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        load_config(QUICKSTART, dotted=[(dotted, "1")])
    assert str(err.value).startswith(message)


def test_a_misspelt_leaf_override_is_caught_by_validation() -> None:
    from tartan_fw.common.from_config import validate
    from tartan_fw.experiment import Experiment

    config = load_config(QUICKSTART, dotted=[("trainer.max_stepz", "3")])
    problems = validate(Experiment, config)
    assert len(problems) == 1 and problems[0].startswith(
        "trainer.max_stepz: unknown parameter for trainer 'tartan' (did you mean 'max_steps'?"
    )


def test_overrides_json_deep_merges_then_dotted_applies_last() -> None:
    overrides = json.dumps({"trainer": {"max_steps": 5, "eval_every": 1}, "body": {"num_layers": 1}, "seed": 4})
    config = load_config(QUICKSTART, {"model": "scratch"}, overrides_json=overrides, dotted=[("trainer.max_steps", "6")])
    assert config["trainer"]["max_steps"] == 6 and config["trainer"]["eval_every"] == 1
    assert config["trainer"]["body_lr"] == 1e-3
    assert config["body"]["num_layers"] == 1 and config["body"]["type"] == "scratch"
    assert config["seed"] == 4


@pytest.mark.parametrize(
    "overrides, message",
    [("{trainer:", "--overrides: not valid JSON"), ("[1, 2]", "--overrides: expected a JSON object")],
)
def test_bad_overrides_json(overrides: str, message: str) -> None:
    with pytest.raises(TartanError, match=message):
        load_config(QUICKSTART, overrides_json=overrides)


def test_jsonnet_syntax_error_is_one_line_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonnet"
    path.write_text("{\n  seed: 1,\n  trainer: { max_steps: 3 \n  body: {},\n}\n")
    with pytest.raises(TartanError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}:4:") and "\n" not in message
    assert message.count(str(path)) == 1


def test_jsonnet_runtime_error_in_a_library_names_the_users_line_then_the_library_line(tmp_path: Path) -> None:
    (tmp_path / "helpers.libsonnet").write_text("{\n  steps:: error 'steps must be set',\n}\n")
    path = tmp_path / "uses.jsonnet"
    path.write_text("local helpers = import 'helpers.libsonnet';\n{ trainer: { max_steps: helpers.steps } }\n")
    with pytest.raises(TartanError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}:2:") and "steps must be set" in message
    assert f"(in {tmp_path / 'helpers.libsonnet'}:2:" in message
    assert "\n" not in message


def test_a_task_missing_a_key_names_the_users_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonnet"
    path.write_text("(import 'tartan_fw/quickstart.libsonnet')(\n  task={ dataset: 'mine' })\n")
    with pytest.raises(TartanError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}:") and "task: missing 'metric'" in message, message


def test_missing_file_and_non_object_experiment(tmp_path: Path) -> None:
    with pytest.raises(TartanError, match="no such experiment file"):
        load_config(tmp_path / "absent.jsonnet")
    listed = tmp_path / "list.jsonnet"
    listed.write_text("[1, 2]")
    with pytest.raises(TartanError, match="an experiment must evaluate to an object, got list"):
        load_config(listed)


def test_assignments_need_an_equals_sign() -> None:
    assert parse_assignment("a.b=c=d", "-o") == ("a.b", "c=d")
    with pytest.raises(TartanError, match=r"-o 'trainer\.max_steps': expected KEY=VALUE"):
        parse_assignment("trainer.max_steps", "-o")


def test_an_experiment_outside_the_repository_imports_the_shipped_library_and_validates(
    tmp_path: Path, data_root: Path
) -> None:
    from conftest import invoke

    path = tmp_path / "elsewhere" / "mine.jsonnet"
    path.parent.mkdir()
    path.write_text("(import 'tartan_fw/quickstart.libsonnet')(task={ dataset: 'tiny', metric: 'macro_f1' })\n")
    result = invoke("validate", str(path), "--ext-var", "model=scratch")
    assert result.exit_code == 0 and result.output == f"{path}: ok\n", result.output


def test_jpath_finds_a_users_library_and_a_missing_import_names_the_option(tmp_path: Path) -> None:
    from conftest import invoke

    (tmp_path / "libs").mkdir()
    (tmp_path / "libs" / "house.libsonnet").write_text("{ steps: 7 }\n")
    path = tmp_path / "mine.jsonnet"
    path.write_text("(import 'tartan_fw/quickstart.libsonnet')()\n"
                    "+ { trainer+: { max_steps: (import 'house.libsonnet').steps } }\n")
    assert load_config(path, search_path=[tmp_path / "libs"])["trainer"]["max_steps"] == 7

    missing = invoke("validate", str(path), "--config-only")
    assert missing.exit_code == 2
    assert missing.output.count("\n") == 1 and "couldn't open import \"house.libsonnet\"" in missing.output
    assert "--jpath FOLDER" in missing.output and missing.output.startswith(f"error: {path}:"), missing.output
    found = invoke("validate", str(path), "--config-only", "--jpath", str(tmp_path / "libs"))
    assert found.exit_code == 0, found.output
    absent = invoke("validate", str(path), "--config-only", "-J", str(tmp_path / "nowhere"))
    assert absent.exit_code == 2 and f"--jpath {tmp_path / 'nowhere'}: no such folder" in absent.output


def test_the_shipped_library_is_package_data() -> None:
    """Every .libsonnet is matched by pyproject's package-data, so a wheel (not only a checkout) ships it."""
    import fnmatch
    import tomllib

    from tartan_fw.common.config import LIBRARY

    package = LIBRARY.parent
    patterns = tomllib.loads((package.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    shipped = sorted(p.relative_to(package).as_posix() for p in LIBRARY.rglob("*.libsonnet"))
    assert "jsonnet/tartan_fw/quickstart.libsonnet" in shipped
    assert all(any(fnmatch.fnmatch(p, pattern) for pattern in patterns["tartan_fw"]) for p in shipped)
