"""META-TARTAN: the streamed update equals the textbook computation, and learns sensible weights."""

from __future__ import annotations

import copy
import json
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from tartan_fw.errors import ConfigurationError
from tartan_fw.runner import training_loop
from tartan_fw.training import StageLoop
from tartan_fw.weighters import MetaWeighter, TaskGradient, WeighterContext
from tartan_fw.weighters.meta import MetaHeadFitter

CPU = torch.device("cpu")


def meta_config(tiny: Any, weighter: dict[str, Any] | None = None, **trainer: Any) -> dict[str, Any]:
    config = tiny(max_grad_norm=None, **trainer)
    config["weighter"] = {"type": "meta", "meta_batch_size": 4, "dev_batch_size": 5, **(weighter or {})}
    return config


def flat_grad(loss: torch.Tensor, parameters: list[nn.Parameter]) -> torch.Tensor:
    grads = torch.autograd.grad(loss, parameters, allow_unused=True)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(grads, parameters)])


def dev_gradient(loop: StageLoop, head: nn.Module, indices: torch.Tensor) -> torch.Tensor:
    """The end-task dev loss's body gradient through ``head``, computed per parameter."""
    body, end_task = loop.run.body, loop.run.end_task
    batch = end_task.collate(indices, "dev")
    logits = head(head.features(body(batch["input_ids"], batch["attention_mask"])))
    return flat_grad(nn.functional.cross_entropy(logits, batch["labels"]), loop.flat.parameters)


def record_batches(loop: StageLoop, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, torch.Tensor]]:
    recorded: list[dict[str, torch.Tensor]] = []
    for task in loop.tasks:
        def next_batch(original=task.next_batch) -> dict[str, torch.Tensor]:
            recorded.append(original())
            return recorded[-1]
        monkeypatch.setattr(task, "next_batch", next_batch)
    return recorded


def test_step_matches_direct_computation(tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = meta_config(tiny, {"weight_lr": 0.5, "initial_logits": {"dapt": 0.3}})
    loop = training_loop(config, tmp_path)
    weighter = loop.weighter
    loop.step(1)
    parameters = [p for p in loop.run.body.parameters()] + [p for t in loop.tasks for p in t.head.parameters()]
    before = [p.detach().clone() for p in parameters]
    old_logits = weighter.logits.clone()
    batches = record_batches(loop, monkeypatch)

    loop.step(2)
    streamed_logits, streamed_cosines = weighter.logits.clone(), weighter.cosines.clone()
    streamed_update = loop.flat.grad.clone()

    with torch.no_grad():
        for parameter, value in zip(parameters, before):
            parameter.copy_(value)
    task_grads = [
        flat_grad(task.loss(loop.run.body, batch).total / batch["num_targets"].clamp(min=1), loop.flat.parameters)
        for task, batch in zip(loop.tasks, batches)
    ]
    _, scored_rows = weighter.rows()  # a dev-fitted phi*'s rows are a function of the step
    meta = dev_gradient(loop, weighter.meta_head, scored_rows)
    cosines = torch.stack([nn.functional.cosine_similarity(meta, g, dim=0) for g in task_grads])
    logits = old_logits + 0.5 * cosines
    weights = torch.softmax(logits, 0)
    update = sum(w * g for w, g in zip(weights, task_grads))

    assert weighter.meta_head is not loop.run.end_task.head
    torch.testing.assert_close(streamed_cosines, cosines, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(streamed_logits, logits, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(weighter.weights(), weights)
    torch.testing.assert_close(streamed_update, update, rtol=1e-4, atol=1e-7)
    assert cosines.abs().max() > 1e-3  # the check compares non-trivial numbers


def test_meta_head_is_an_adamw_fit_from_a_seeded_init(tiny, tmp_path: Path) -> None:
    loop = training_loop(meta_config(tiny), tmp_path)
    end_task = loop.run.end_task

    def fresh() -> nn.Module:
        return end_task.head_config.construct(body=loop.run.body, num_labels=len(end_task.labels))

    features, labels = torch.randn(8, 32), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    fitted = MetaHeadFitter(fresh, steps=10, lr=1e-2, weight_decay=0.1, warm_start=False, device=CPU).fit(
        features, labels, seed=7
    )
    torch.manual_seed(7)
    expected = fresh()
    optimizer = torch.optim.AdamW(expected.parameters(), lr=1e-2, weight_decay=0.1, betas=(0.9, 0.98))
    for _ in range(10):
        optimizer.zero_grad()
        nn.functional.cross_entropy(expected(features), labels).backward()
        optimizer.step()
    for got, want in zip(fitted.parameters(), expected.parameters()):
        torch.testing.assert_close(got, want)


def driven_weighter(loop: StageLoop, task_names: list[str], **settings: Any) -> MetaWeighter:
    """A meta weighter on ``loop``'s model whose task gradients the test supplies."""
    weighter = MetaWeighter(**{"meta_batch_size": 6, "dev_batch_size": 5, **settings})
    context = WeighterContext(loop.run.body, loop.flat.parameters, loop.run.end_task, CPU, nullcontext, seed=0)
    weighter.setup(task_names, context)
    return weighter


def end_task_gradient(loop: StageLoop) -> TaskGradient:
    end_task = loop.run.end_task
    output = end_task.loss(loop.run.body, end_task.next_batch())
    grad = flat_grad(output.total / len(output.labels), loop.flat.parameters)
    return TaskGradient(0, grad, output.features.detach(), output.labels)


def test_aux_task_agreeing_with_dev_gradient_gains_weight(tiny, tmp_path: Path) -> None:
    loop = training_loop(meta_config(tiny), tmp_path)
    dev_size = loop.run.end_task.split_size("dev")
    # Each dev batch is then the whole dev set, so the test knows the meta-gradient exactly (phi*
    # is then fitted on training rows: the dev split has no rows left for it).
    weighter = driven_weighter(loop, ["tiny", "agrees", "opposes"], dev_batch_size=dev_size, meta_source="train",
                               weight_lr=0.1)
    noise = torch.Generator().manual_seed(0)
    logits = [weighter.logits.clone()]
    for step in range(1, 6):
        weighter.begin_step(step)
        weighter.coefficient(end_task_gradient(loop))
        meta = dev_gradient(loop, weighter.meta_head, torch.arange(dev_size))
        jitter = torch.randn(meta.shape, generator=noise) * meta.norm() / meta.numel() ** 0.5
        weighter.coefficient(TaskGradient(1, meta + jitter))
        weighter.coefficient(TaskGradient(2, -meta + jitter))
        logits.append(weighter.logits.clone())
    steps = torch.stack(logits).diff(dim=0)
    assert (steps[:, 1] > 0.05).all() and (steps[:, 2] < -0.05).all()
    weights = weighter.weights()
    assert weights[1] > 1 / 3 > weights[2]


def test_weights_stay_normalised_and_finite_and_zero_gradients_give_zero_cosine(tiny, tmp_path: Path) -> None:
    loop = training_loop(meta_config(tiny), tmp_path)
    weighter = driven_weighter(loop, ["tiny", "huge", "zero", "small"], weight_lr=5.0)
    for step in range(1, 21):
        weighter.begin_step(step)
        end = end_task_gradient(loop)
        gradients = [end, TaskGradient(1, end.body_grad * 1e6), TaskGradient(2, torch.zeros_like(end.body_grad)),
                     TaskGradient(3, end.body_grad * -1e-12)]
        coefficients = torch.stack([torch.as_tensor(weighter.coefficient(g)) for g in gradients])
        mixing = coefficients / weighter.normaliser()
        assert torch.isfinite(weighter.logits).all() and torch.isfinite(mixing).all()
        torch.testing.assert_close(mixing, weighter.weights())
        torch.testing.assert_close(weighter.weights().sum(), torch.tensor(1.0))
        assert weighter.cosines[2] == 0 and weighter.logits[2] == 0
    weighter.begin_step(21)
    end = end_task_gradient(loop)
    weighter.coefficient(end)
    for index, poison in ((1, float("nan")), (2, float("inf"))):
        bad = end.body_grad.clone()
        bad[0] = poison
        before = weighter.logits[index].clone()
        weighter.coefficient(TaskGradient(index, bad))
        assert weighter.logits[index] == before  # a non-finite gradient moves nothing
    assert weighter.logits.max() - weighter.logits.min() > 5  # the weights were pushed far apart


def run_steps(loop: StageLoop, steps: int) -> torch.Tensor:
    cosines = []
    for step in range(1, steps + 1):
        loop.step(step)
        cosines.append(loop.weighter.cosines.clone())
    return torch.stack(cosines)


def test_same_head_favours_the_end_task(tiny, tmp_path: Path) -> None:
    separate_loop = training_loop(meta_config(tiny), tmp_path / "separate")
    same_loop = training_loop(meta_config(tiny, {"same_head": True}), tmp_path / "same")
    separate, same = run_steps(separate_loop, 6), run_steps(same_loop, 6)
    # Through its own head the end-task's train and dev gradients agree more (section 3.3). An
    # observation on this task and seed, not a theorem: at step 1 the heads are still random, so
    # only the later steps are compared.
    assert (same[1:, 0] > separate[1:, 0]).all()
    assert (same[1:, 0] > same[1:, 1:].max(dim=1).values).all()
    assert same_loop.weighter.weights()[0] > separate_loop.weighter.weights()[0]


def test_update_every_reuses_weights_between_updates(tiny, tmp_path: Path) -> None:
    loop = training_loop(meta_config(tiny, {"update_every": 3}), tmp_path)
    logits = []
    for step in range(1, 7):
        loop.step(step)
        logits.append(loop.weighter.logits.clone())
    assert torch.equal(logits[0], logits[1]) and torch.equal(logits[1], logits[2])
    assert not torch.equal(logits[2], logits[3]) and torch.equal(logits[3], logits[5])


def test_gradient_accumulation_gives_the_same_update(tiny, tmp_path: Path) -> None:
    loops = [training_loop(meta_config(tiny, accumulation_steps=k), tmp_path / str(k)) for k in (1, 2)]
    for loop in loops:
        run_steps(loop, 3)
    whole, accumulated = loops
    torch.testing.assert_close(accumulated.weighter.logits, whole.weighter.logits, rtol=1e-5, atol=1e-6)
    # After AdamW, as in tests/test_accumulation.py: float noise in a near-zero gradient entry can
    # move a parameter by a few 1e-6 (seen: 6e-6); a real difference in the update moves it by ~lr (1e-3).
    after_adam = {"rtol": 1e-5, "atol": 1e-5}
    torch.testing.assert_close(accumulated.flat.data, whole.flat.data, **after_adam)
    for a, b in zip(accumulated.tasks, whole.tasks):
        for p, q in zip(a.head.parameters(), b.head.parameters()):
            torch.testing.assert_close(p, q, **after_adam)


@pytest.mark.parametrize("settings", [{"meta_source": "train", "warm_start": True}, {"meta_source": "dev"}])
def test_other_meta_sources_and_state_round_trip(tiny, tmp_path: Path, settings: dict[str, Any]) -> None:
    loop = training_loop(meta_config(tiny, settings), tmp_path)
    run_steps(loop, 2)
    state = loop.weighter.state_dict()
    restored = driven_weighter(loop, [t.name for t in loop.tasks], meta_batch_size=4, dev_batch_size=5, **settings)
    restored.load_state_dict(state)
    torch.testing.assert_close(restored.weights(), loop.weighter.weights())
    for weighter in (restored, loop.weighter):
        weighter.begin_step(3)
    for got, want in zip(restored.rows(), loop.weighter.rows()):  # the next update's rows
        assert torch.equal(got, want)
    assert (restored.fitter.head is not None) == settings.get("warm_start", False)


def test_configuration_errors_name_the_config_path(tiny, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"weighter.initial_logits: unknown task nope"):
        training_loop(meta_config(tiny, {"initial_logits": {"nope": 1.0}}), tmp_path)
    loop = training_loop(meta_config(tiny), tmp_path)
    with pytest.raises(ConfigurationError, match=r"weighter.type: 'meta' .* needs the end-task"):
        driven_weighter(loop, ["tapt", "dapt"])  # e.g. a pretraining stage on auxiliary tasks alone


def test_cli_run_logs_meta_scalars(tiny, tmp_path: Path) -> None:
    from click.testing import CliRunner
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from tartan_fw.cli.main import cli

    config = tmp_path / "meta.json"
    config.write_text(json.dumps(meta_config(tiny, max_steps=3, eval_every=3)))
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", str(config), "-s", str(out), "--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    for task in ("tiny", "tapt", "dapt"):
        for prefix in ("weights", "cosine", "weight_logits", "grad_norm"):
            assert f"{prefix}/{task}" in tags
    assert {"meta_head/fit_loss", "meta_head/fit_accuracy"} <= tags
    total = sum(events.Scalars(f"weights/{task}")[-1].value for task in ("tiny", "tapt", "dapt"))
    assert total == pytest.approx(1.0, abs=1e-5)
    assert json.loads((out / "metrics.json").read_text())["steps"] == 3


def test_weighter_keeps_one_body_sized_buffer_whatever_the_number_of_tasks(tiny, tmp_path: Path) -> None:
    held = {}
    for extra in (0, 3):
        config = meta_config(tiny)
        config["aux_tasks"] += [{"type": "mlm", "name": f"extra{i}", "corpus": "tiny/train.txt", "batch_size": 4}
                                for i in range(extra)]
        loop = training_loop(config, tmp_path / str(extra))
        run_steps(loop, 2)
        tensors = [t for t in vars(loop.weighter).values() if isinstance(t, torch.Tensor)]
        assert max(t.numel() for t in tensors) == len(loop.flat)  # the meta-gradient
        held[extra] = sum(t.numel() * t.element_size() for t in tensors)
    # Three more tasks add one float each to the logits, cosines and gradient norms, nothing else.
    assert held[3] - held[0] == 3 * 3 * 4


def test_out_of_range_settings_are_found_by_validate_at_their_paths_all_at_once() -> None:
    """The ranges are the constructor's annotations: validate reports every one before anything is built."""
    from tartan_fw.common.from_config import build, validate
    from tartan_fw.weighters import Weighter

    settings = {"type": "meta", "weight_lr": -0.1, "meta_head_steps": 0, "meta_head_lr": 0.0,
                "meta_head_weight_decay": float("nan"), "meta_head_tolerance": float("inf"), "meta_batch_size": 0,
                "dev_batch_size": -2, "update_every": 0}
    expected = [
        "weighter.weight_lr: must be a finite number >= 0, got -0.1",
        "weighter.meta_head_steps: must be at least 1, got 0",
        "weighter.meta_head_lr: must be a finite number above 0, got 0.0",
        "weighter.meta_head_weight_decay: must be a finite number >= 0, got nan",
        "weighter.meta_head_tolerance: must be a finite number >= 0, got inf",
        "weighter.meta_batch_size: must be at least 1, got 0",
        "weighter.dev_batch_size: must be at least 1, got -2",
        "weighter.update_every: must be at least 1, got 0",
    ]
    assert sorted(validate(Weighter, settings, "weighter")) == sorted(expected)
    with pytest.raises(ConfigurationError) as raised:
        build(Weighter, settings, "weighter")
    assert all(line in str(raised.value) for line in expected)
    assert validate(Weighter, {"type": "meta", "weight_lr": 0.0, "meta_head_tolerance": 0.0}, "weighter") == []
