"""The registry and the config builder: names, parameters, types and where each error points."""
# ruff: noqa: UP006, UP007, UP035, UP045  (the typing forms components are annotated with are under test)

from __future__ import annotations

import json
from typing import Any, ClassVar, Dict, List, Literal, Mapping, Optional, Union

import pytest
import torch

from tartan_fw.common.constraints import PositiveInt
from tartan_fw.common.from_config import Lazy, build, constructor_parameters, validate
from tartan_fw.common.registrable import Registrable
from tartan_fw.errors import ConfigurationError, TartanError


class Widget(Registrable):
    """A throwaway family; its members are registered inside tests (the registry fixture removes them)."""

    family: ClassVar[str] = "widget"
    injected_parameters: ClassVar[tuple[str, ...]] = ("runtime",)


class Holder:
    """A plain (unregistered) class owning widgets, as the experiment owns its components."""

    def __init__(self, widget: Widget, later: Optional[Lazy[Widget]] = None, many: Optional[List[Widget]] = None) -> None:
        self.widget = widget
        self.later = later
        self.many = many or []


class Typed:
    """One parameter per annotation the builder understands."""

    def __init__(
        self,
        count: int,
        name: str = "x",
        flag: bool = False,
        rate: float = 0.5,
        maybe: Optional[int] = None,
        sizes: List[int] = (),
        table: Optional[Dict[str, float]] = None,
        mode: Literal["a", "b"] = "a",
        either: Union[int, str] = 0,
    ) -> None:
        self.count, self.name, self.flag, self.rate, self.maybe = count, name, flag, rate, maybe
        self.sizes, self.table, self.mode, self.either = sizes, table, mode, either


def register_plain(registry, name: str = "plain") -> type:
    @Widget.register(name)
    class Plain(Widget):
        def __init__(self, size: int = 1) -> None:
            if size < 1:
                raise ValueError(f"size must be at least 1, got {size}")
            self.size = size

    return Plain


def test_register_by_name_and_list_available(registry) -> None:
    plain = register_plain(registry)

    @Widget.register("fancy")
    class Fancy(Widget):
        pass

    assert Widget.by_name("plain") is plain and Widget.by_name("fancy") is Fancy
    assert Widget.list_available() == ["fancy", "plain"]
    assert Widget.registered_name(Fancy) == "fancy"


def test_registrations_do_not_leak_between_tests() -> None:
    assert Widget.list_available() == []


def test_duplicate_name_names_both_classes(registry) -> None:
    register_plain(registry, "dup")
    with pytest.raises(TartanError) as err:

        @Widget.register("dup")
        class Other(Widget):
            pass

    message = str(err.value)
    assert "test_registry.register_plain.<locals>.Plain" in message
    assert "test_registry.test_duplicate_name_names_both_classes.<locals>.Other" in message
    assert "widget 'dup'" in message


def test_exist_ok_replaces_a_registration(registry) -> None:
    register_plain(registry, "dup")

    @Widget.register("dup", exist_ok=True)
    class Replacement(Widget):
        pass

    assert Widget.by_name("dup") is Replacement


def test_unknown_weighter_suggests_the_closest_and_lists_registered(registry, tiny) -> None:
    from tartan_fw.experiment import Experiment
    from tartan_fw.weighters import StaticWeighter, Weighter

    if "meta" not in Weighter.list_available():

        @Weighter.register("meta")
        class Meta(StaticWeighter):
            pass

    config = tiny()
    config["weighter"] = {"type": "metaa"}
    problems = validate(Experiment, config)
    assert len(problems) == 1
    assert problems[0].startswith("weighter.type: unknown weighter 'metaa' (did you mean 'meta'? registered: ")
    for name in Weighter.list_available():
        assert name in problems[0]


def test_unknown_name_without_close_match_and_missing_type(registry) -> None:
    register_plain(registry)
    problems = validate(Holder, {"widget": {"type": "zzzzzz"}})
    assert len(problems) == 1
    assert problems[0].startswith("widget.type: unknown widget 'zzzzzz' (registered: plain; plugins loaded: ")
    problems = validate(Holder, {"widget": {"size": 2}})
    assert problems == ["widget.type: missing; choose a widget (registered: plain)"]


def test_type_must_be_a_string(registry) -> None:
    register_plain(registry)
    assert validate(Holder, {"widget": {"type": 3}}) == [
        "widget.type: must be a string naming a registered widget, got 3 (registered: plain)"
    ]
    assert "got ['plain']" in validate(Holder, {"widget": {"type": ["plain"]}})[0]


def test_unknown_parameter_suggests_the_closest(registry) -> None:
    register_plain(registry)
    problems = validate(Holder, {"widget": {"type": "plain", "sise": 2}})
    assert problems == ["widget.sise: unknown parameter for widget 'plain' (did you mean 'size'? accepted: size)"]


def test_missing_parameter_names_its_path_and_type() -> None:
    assert validate(Typed, {}) == ["count: missing required parameter of Typed (int)"]


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("count", "3", "count: expected int, got str '3'"),
        ("count", True, "count: expected int, got bool True"),
        ("count", 2.5, "count: expected int, got float 2.5"),
        ("name", 3, "name: expected str, got int 3"),
        ("flag", 1, "flag: expected bool, got int 1"),
        ("rate", "fast", "rate: expected float, got str 'fast'"),
        ("rate", False, "rate: expected float, got bool False"),
        ("maybe", "x", "maybe: expected int, got str 'x'"),
        ("sizes", 3, "sizes: expected a list, got int 3"),
        ("sizes", [1, "2"], "sizes[1]: expected int, got str '2'"),
        ("table", [1], "table: expected an object, got list [1]"),
        ("table", {"a": "b"}, "table.a: expected float, got str 'b'"),
        ("mode", "c", "mode: 'c' is not one of 'a', 'b'"),
        ("either", [1], "either: expected int or str, got list [1]"),
        ("name", None, "name: expected str, got NoneType None"),
    ],
)
def test_wrong_types_are_reported_with_their_path(key: str, value, expected: str) -> None:
    assert validate(Typed, {"count": 1, key: value}) == [expected]


def test_accepted_values_convert_as_documented() -> None:
    built = build(Typed, {"count": 2, "rate": 3, "maybe": None, "sizes": [1, 2], "table": {"x": 1},
                          "mode": "b", "either": "s", "flag": True})
    assert built.rate == 3.0 and isinstance(built.rate, float)
    assert built.table == {"x": 1.0} and isinstance(built.table["x"], float)
    assert (built.count, built.maybe, built.sizes, built.mode, built.either, built.flag) == (2, None, [1, 2], "b", "s", True)
    assert build(Typed, {"count": 1, "maybe": 4}).maybe == 4


def test_every_error_is_reported_at_once(registry) -> None:
    register_plain(registry)
    config = {"widget": {"type": "plain", "size": "big", "colour": 1}, "many": [{"type": "nope"}], "extra": 1}
    with pytest.raises(ConfigurationError) as err:
        build(Holder, config)
    problems = sorted(p.split(" (registered")[0] for p in err.value.problems)
    assert problems == [
        "extra: unknown parameter for Holder (accepted: later, many, widget)",
        "many[0].type: unknown widget 'nope'",
        "widget.colour: unknown parameter for widget 'plain' (accepted: size)",
        "widget.size: expected int, got str 'big'",
    ]
    assert str(err.value).startswith("4 config errors:\n")


def test_lazy_is_validated_but_built_only_with_its_runtime_dependencies(registry) -> None:
    built_with: list[tuple] = []

    @Widget.register("needs_runtime")
    class NeedsRuntime(Widget):
        def __init__(self, runtime: object, size: int = 1) -> None:
            built_with.append((runtime, size))
            self.runtime, self.size = runtime, size

    assert validate(Holder, {"widget": {"type": "needs_runtime"}, "later": {"type": "needs_runtime", "size": "x"}}) == [
        "later.size: expected int, got str 'x'"
    ]
    register_plain(registry)
    holder = build(Holder, {"widget": {"type": "plain"}, "later": {"type": "needs_runtime", "size": 3}})
    assert isinstance(holder.later, Lazy) and built_with == []
    widget = holder.later.construct(runtime="the runtime")
    assert built_with == [("the runtime", 3)] and widget.size == 3


def test_lazy_construct_prefixes_constructor_errors(registry) -> None:
    register_plain(registry)
    holder = build(Holder, {"widget": {"type": "plain"}, "later": {"type": "plain", "size": 0}})
    with pytest.raises(ConfigurationError, match=r"^later: size must be at least 1, got 0$"):
        holder.later.construct(runtime=None)


def test_constructor_value_errors_get_the_config_path(registry) -> None:
    register_plain(registry)
    with pytest.raises(ConfigurationError) as err:
        build(Holder, {"widget": {"type": "plain"}, "many": [{"type": "plain"}, {"type": "plain", "size": 0}]})
    assert err.value.problems == ["many[1]: size must be at least 1, got 0"]
    assert isinstance(err.value.__cause__, ValueError)  # --debug shows where it came from


def test_injected_parameters_cannot_be_set_in_the_config(registry, tiny) -> None:
    from tartan_fw.experiment import Experiment

    config = tiny()
    config["end_task"]["head"]["body"] = "mine"
    config["body"]["data_root"] = "/elsewhere"
    config["end_task"]["seed"] = 3
    config["aux_tasks"][0]["body"] = "mine"
    assert sorted(validate(Experiment, config)) == [
        "aux_tasks[0].body: set by the framework at run time; remove it from the config",
        "body.data_root: set by the framework at run time; remove it from the config",
        "end_task.head.body: set by the framework at run time; remove it from the config",
        "end_task.seed: set by the framework at run time; remove it from the config",
    ]


def test_lazy_arguments_are_the_config_values_with_defaults_before_the_dependencies_exist(registry) -> None:
    register_plain(registry)

    @Widget.register("needy")
    class Needy(Widget):
        def __init__(self, runtime: int, inner: Widget, later: Optional[Lazy[Widget]] = None, scale: float = 2.0) -> None:
            self.runtime, self.inner, self.later, self.scale = runtime, inner, later, scale

    lazy = build(Holder, {"widget": {"type": "plain"}, "later": {"type": "needy", "inner": {"type": "plain", "size": 3},
                                                                  "later": {"type": "plain"}}}).later
    arguments = lazy.arguments()
    assert sorted(arguments) == ["inner", "later", "scale"]  # the injected ``runtime`` left out
    assert arguments["inner"].size == 3 and isinstance(arguments["later"], Lazy) and arguments["scale"] == 2.0
    built = lazy.construct(runtime=7)
    assert built.runtime == 7 and built.inner is not arguments["inner"] and built.inner.size == 3

    bad = Lazy(Needy, {"inner": {"type": "plain", "size": 0}}, "widget")
    with pytest.raises(ConfigurationError, match=r"^widget\.inner: size must be at least 1, got 0$"):
        bad.arguments()


def test_a_constructors_data_error_passes_through_lazy_construction_unchanged(registry) -> None:
    from tartan_fw.errors import DataError

    @Widget.register("reads")
    class Reads(Widget):
        def __init__(self, runtime: str) -> None:
            raise DataError(f"{runtime}:7: malformed line")

    with pytest.raises(DataError, match=r"^data\.jsonl:7: malformed line$"):
        Lazy(Reads, {}, "widget").construct(runtime="data.jsonl")


def test_an_experiment_builds_its_tasks_only_once_the_body_exists(tiny, tmp_path) -> None:
    from tartan_fw.experiment import Experiment, prepare
    from tartan_fw.tasks import ClassificationTask, MaskedLMTask

    missing = tiny()
    missing["data_root"] = str(tmp_path / "nowhere")
    experiment = build(Experiment, missing)  # config values only: no data is read
    assert experiment.end_task.cls is ClassificationTask and experiment.task_names == ["tiny", "tapt", "dapt"]
    body, end_task, aux_tasks = prepare(build(Experiment, tiny()), torch.device("cpu"))
    assert isinstance(end_task, ClassificationTask) and [type(t) for t in aux_tasks] == [MaskedLMTask] * 2
    for task in [end_task, *aux_tasks]:  # complete once constructed
        assert task.head is not None and task.stream is not None and task.next_batch()["num_targets"] > 0
    assert end_task.labels and end_task.split_size("dev") == len(end_task.targets["dev"])


def test_kwargs_without_a_base_constructor_to_stand_for_is_refused(registry) -> None:
    @Widget.register("loose")
    class Loose(Widget):
        def __init__(self, **anything: int) -> None:
            self.anything = anything

    with pytest.raises(TypeError, match="no base class declares"):
        validate(Holder, {"widget": {"type": "loose"}})


class Sized(Widget):
    def __init__(self, size: PositiveInt = 1, label: str = "base") -> None:
        self.size, self.label = size, label


def test_kwargs_stand_for_the_base_constructors_parameters_less_the_fixed_ones(registry) -> None:
    @Widget.register("scaled")
    class Scaled(Sized):
        fixed_parameters: ClassVar[tuple[str, ...]] = ("label",)

        def __init__(self, scale: float = 1.0, **kwargs: Any) -> None:
            super().__init__(label="scaled", **kwargs)
            self.scale = scale

    assert [name for name, _, _ in constructor_parameters(Scaled)] == ["scale", "size"]
    assert validate(Holder, {"widget": {"type": "scaled", "size": 0, "label": "mine"}}) == [
        "widget.label: unknown parameter for widget 'scaled' (accepted: scale, size)",
        "widget.size: must be at least 1, got 0",
    ]
    widget = build(Holder, {"widget": {"type": "scaled", "size": 3, "scale": 2}}).widget
    assert (widget.size, widget.label, widget.scale) == (3, "scaled", 2.0)


def test_a_relation_between_values_is_reported_by_validate_with_the_defaults_filled_in(registry) -> None:
    @Widget.register("grid")
    class Grid(Widget):
        def __init__(self, width: int = 6, columns: int = 4) -> None:
            self.width, self.columns = width, columns

        @classmethod
        def argument_problems(cls, arguments: Mapping[str, Any]) -> dict[str, str]:
            return {"columns": "must divide width"} if arguments["width"] % arguments["columns"] else {}

    assert validate(Holder, {"widget": {"type": "grid"}}) == ["widget.columns: must divide width"]
    assert validate(Holder, {"widget": {"type": "grid", "columns": 3}}) == []


def test_a_library_error_while_building_is_named_as_such_and_chained(registry) -> None:
    @Widget.register("parses")
    class Parses(Widget):
        def __init__(self, text: str = "{") -> None:
            self.value = json.loads(text)

    with pytest.raises(ConfigurationError) as err:
        build(Holder, {"widget": {"type": "parses"}})
    assert err.value.problems == ["widget: building widget 'parses' failed: JSONDecodeError: Expecting property name "
                                  "enclosed in double quotes: line 1 column 2 (char 1) (--debug shows where)"]
    assert isinstance(err.value.__cause__, json.JSONDecodeError)


def test_the_tiny_experiment_validates_and_builds(tiny) -> None:
    from tartan_fw.experiment import Experiment

    assert validate(Experiment, tiny()) == []
    experiment = build(Experiment, tiny())
    assert experiment.task_names == ["tiny", "tapt", "dapt"]
    assert isinstance(experiment.body, Lazy) and all(isinstance(t, Lazy) for t in [experiment.end_task, *experiment.aux_tasks])


def test_each_package_registers_its_own_components_without_the_experiment_module() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from tartan_fw.training import Trainer\n"
        "from tartan_fw.training.callbacks import Callback\n"
        "print(Trainer.list_available(), Callback.list_available(), 'tartan_fw.experiment' in sys.modules)\n"
        "import tartan_fw.cli.compare\n"  # a command module imports the shared CLI pieces, not main
        "print('tartan_fw.cli.main' in sys.modules)\n"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert shown.stdout.splitlines() == [
        "['pretrain', 'tartan'] ['checkpointing', 'evaluation', 'interruption', 'mlflow', 'nonfinite', "
        "'progress_lines', 'scalars', 'wandb'] False",
        "False",
    ]


# --- Every declared range of the shipped components, reported at its dotted path without building anything.

OUT_OF_RANGE = [
    ("trainer.body_lr=-0.001", "trainer.body_lr: must be a finite number above 0, got -0.001"),
    ("trainer.head_lr=-0.001", "trainer.head_lr: must be a finite number above 0, got -0.001"),
    ("trainer.body_lr=0", "trainer.body_lr: must be a finite number above 0, got 0.0"),
    ("trainer.head_lr=NaN", "trainer.head_lr: must be a finite number above 0, got nan"),
    ("trainer.body_lr=Infinity", "trainer.body_lr: must be a finite number above 0, got inf"),
    ("trainer.max_grad_norm=-1", "trainer.max_grad_norm: must be a finite number above 0 (null: no clipping), got -1.0"),
    ("trainer.max_grad_norm=0", "trainer.max_grad_norm: must be a finite number above 0 (null: no clipping), got 0.0"),
    ("trainer.patience=-3", "trainer.patience: must be at least 1 (null: never stop early), got -3"),
    ("trainer.patience=0", "trainer.patience: must be at least 1 (null: never stop early), got 0"),
    ("trainer.warmup_fraction=1", "trainer.warmup_fraction: must be in [0, 1), got 1.0"),
    ("trainer.warmup_fraction=-0.1", "trainer.warmup_fraction: must be in [0, 1), got -0.1"),
    ("trainer.warmup_fraction=NaN", "trainer.warmup_fraction: must be in [0, 1), got nan"),
    ("trainer.weight_decay=-0.01", "trainer.weight_decay: must be a finite number >= 0, got -0.01"),
    ("trainer.checkpoint_every=0", "trainer.checkpoint_every: must be at least 1 (null: only when interrupted), got 0"),
    ("trainer.eval_every=0", "trainer.eval_every: must be at least 1, got 0"),
    ("trainer.log_every=0", "trainer.log_every: must be at least 1, got 0"),
    ("trainer.accumulation_steps=0", "trainer.accumulation_steps: must be at least 1, got 0"),
    ("trainer.max_nonfinite_steps=0", "trainer.max_nonfinite_steps: must be at least 1, got 0"),
    ("trainer.max_steps=-5", "trainer.max_steps: must be at least 1, got -5"),
    ("end_task.eval_batch_size=0", "end_task.eval_batch_size: must be at least 1, got 0"),
    ('trainer.finetune={"max_steps": 0}', "trainer.finetune.max_steps: must be at least 1, got 0"),
    ('trainer.finetune={"body_lr": -1}', "trainer.finetune.body_lr: must be a finite number above 0, got -1.0"),
    ('trainer.finetune={"patience": 0}', "trainer.finetune.patience: must be at least 1 (null: never stop early), got 0"),
]
SIZES_AND_SEEDS = [  # a numpy, ZeroDivision or Overflow traceback before the ranges were declared
    ("body.num_heads=0", "body.num_heads: must be at least 1, got 0"),
    ("body.hidden_size=0", "body.hidden_size: must be at least 1, got 0"),
    ("body.vocab_size=-5", "body.vocab_size: must be at least 1, got -5"),
    ("body.num_layers=0", "body.num_layers: must be at least 1, got 0"),
    ("seed=-1", "seed: must be between 0 and 4294967295, got -1"),
    ("seed=99999999999999999999", "seed: must be between 0 and 4294967295, got 99999999999999999999"),
]
# Checked by constructors before they were declared, so validate could not see them.
DECLARED_IN_CONSTRUCTORS_BEFORE = [
    ("body.max_length=4", "body.max_length: must be at least 8, got 4"),
    ("end_task.head.dropout=1.5", "end_task.head.dropout: must be in [0, 1), got 1.5"),
    ("body.dropout=1", "body.dropout: must be in [0, 1), got 1.0"),
    ("body.num_heads=3", "body.num_heads: must divide hidden_size (32), got 3"),
    ("body.tokenizer_corpora=[]", "body.tokenizer_corpora: must be a non-empty list, got []"),
    ('aux_tasks.0.reader={"type": "text_lines", "fraction": 0}', "aux_tasks[0].reader.fraction: must be in (0, 1], got 0.0"),
    ('end_task.reader={"type": "csv", "delimiter": ";;"}', "end_task.reader.delimiter: must be one character, got ';;'"),
    ("trainer.max_epochs=0", "trainer.max_epochs: must be a finite number above 0, got 0.0"),
    ('weighter={"type": "uncertainty", "lr": -1}', "weighter.lr: must be a finite number above 0, got -1.0"),
]
RANGES = OUT_OF_RANGE + SIZES_AND_SEEDS + DECLARED_IN_CONSTRUCTORS_BEFORE


@pytest.mark.parametrize("override, message", RANGES, ids=[o.split("=")[0] + "=" + o.split("=", 1)[1][:12] for o, _ in RANGES])
def test_every_declared_range_is_reported_at_its_dotted_path(tiny, override: str, message: str) -> None:
    from tartan_fw.common.config import apply_dotted, parse_assignment, parse_value
    from tartan_fw.experiment import Experiment

    config = tiny()
    key, value = parse_assignment(override, "-o")
    apply_dotted(config, key, parse_value(value))
    assert validate(Experiment, config) == [message]


def test_pretrain_inherits_the_tartan_trainers_ranges_and_refuses_what_it_fixes(tiny) -> None:
    from tartan_fw.experiment import Experiment

    config = {**tiny(), "trainer": {"type": "pretrain", "lr": -1e-4, "max_steps": 0, "eval_every": 5}}
    assert sorted(validate(Experiment, config)) == [
        "trainer.eval_every: unknown parameter for trainer 'pretrain' (did you mean 'log_every'? accepted: "
        "accumulation_steps, callbacks, "
        "checkpoint_every, compile, head_warmup_lr, head_warmup_steps, log_every, lr, max_grad_norm, "
        "max_nonfinite_steps, max_steps, precision, report_to, warmup_fraction, weight_decay)",
        "trainer.lr: must be a finite number above 0, got -0.0001",
        "trainer.max_steps: must be at least 1, got 0",
    ]
