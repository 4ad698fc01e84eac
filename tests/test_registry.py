"""The registry and the config builder: names, parameters, types and where each error points."""
# ruff: noqa: UP006, UP007, UP035, UP045  (the typing forms components are annotated with are under test)

from __future__ import annotations

from typing import ClassVar, Dict, List, Literal, Optional, Union

import pytest
import torch

from tartan_fw.common.from_config import Lazy, build, validate
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


def test_components_may_not_take_kwargs(registry) -> None:
    @Widget.register("loose")
    class Loose(Widget):
        def __init__(self, **anything: int) -> None:
            self.anything = anything

    with pytest.raises(TypeError, match="may not take"):
        validate(Holder, {"widget": {"type": "loose"}})


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
        "['pretrain', 'tartan'] ['checkpointing', 'evaluation', 'interruption', 'nonfinite', 'progress_lines', "
        "'scalars'] False",
        "False",
    ]
