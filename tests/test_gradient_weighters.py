"""GCS, PCGrad and uncertainty weighting: each against a direct computation on a small model, on
planted gradients (agreeing, conflicting, orthogonal), and across a resume."""

from __future__ import annotations

import importlib
import json
import math
from contextlib import nullcontext
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NamedTuple

import pytest
import torch
from safetensors.torch import load_file
from test_meta_weighter import flat_grad, record_batches
from test_plugins import tutorial_files
from test_resume import after_step, resume_in_a_new_second, scalars, without_wall_time
from torch import nn

from tartan_fw.common.from_config import build
from tartan_fw.errors import ConfigurationError
from tartan_fw.runner import run_experiment, training_loop
from tartan_fw.training.checkpoint import TrainingCheckpoint
from tartan_fw.training import StageLoop
from tartan_fw.weighters import AllGradientsWeighter, TaskGradient, Weighter, WeighterContext

CPU = torch.device("cpu")


def loop_for(tiny: Any, weighter: dict[str, Any], directory: Path) -> StageLoop:
    config = tiny(max_grad_norm=None)
    config["weighter"] = weighter
    return training_loop(config, directory)


class Recomputed(NamedTuple):
    """One step's per-task mean losses and gradients, recomputed directly from the same start."""

    losses: list[torch.Tensor]
    grads: list[torch.Tensor]  # body, flat
    head_grads: list[torch.Tensor]  # each task's head, flat


def recompute_step(loop: StageLoop, monkeypatch: pytest.MonkeyPatch, step: int) -> Recomputed:
    """Runs ``step`` of ``loop`` and recomputes its task gradients with plain autograd."""
    parameters = [p for p in loop.run.body.parameters()] + [p for t in loop.tasks for p in t.head.parameters()]
    before = [p.detach().clone() for p in parameters]
    batches = record_batches(loop, monkeypatch)
    loop.step(step)
    after = [p.detach().clone() for p in parameters]
    with torch.no_grad():
        for parameter, value in zip(parameters, before):
            parameter.copy_(value)
    result = Recomputed([], [], [])
    for task, batch, heads in zip(loop.tasks, batches, loop.head_parameters):
        loss = task.loss(loop.run.body, batch).total / batch["num_targets"].clamp(min=1)
        grad = flat_grad(loss, loop.flat.parameters + heads)
        result.losses.append(loss.detach())
        result.grads.append(grad[: len(loop.flat)])
        result.head_grads.append(grad[len(loop.flat):])
    with torch.no_grad():
        for parameter, value in zip(parameters, after):
            parameter.copy_(value)
    return result


def assert_head_grads_scaled(loop: StageLoop, recomputed: Recomputed, scales: torch.Tensor) -> None:
    """Each head's gradient after the step is its own gradient times ``scales[i]`` (no clipping here)."""
    for heads, grad, scale in zip(loop.head_parameters, recomputed.head_grads, scales):
        torch.testing.assert_close(torch.cat([p.grad.reshape(-1) for p in heads]), scale * grad, rtol=1e-4, atol=1e-7)


def same(a: Any, b: Any) -> bool:
    """Bit-for-bit equality of nested checkpoint state."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    return a == b


def planted(
    weighter: Weighter, names: list[str], grads: list[torch.Tensor], losses: list[float] | None = None, end_task: str = "end",
) -> torch.Tensor:
    """One step of ``weighter`` on the given gradients, through the trainer's mixer; returns the update."""
    body = nn.Linear(len(grads[0]), 1, bias=False)
    context = WeighterContext(body, list(body.parameters()), SimpleNamespace(name=end_task), CPU, nullcontext, seed=0)
    if not hasattr(weighter, "task_names"):
        weighter.setup(names, context)
    mixer = weighter.mixer(grads[0])
    mixer.begin_step(1)
    for index, grad in enumerate(grads):
        loss = torch.tensor(losses[index] if losses else 1.0)
        mixer.add(TaskGradient(index, grad.clone(), loss=loss))
    update = torch.empty_like(grads[0])
    mixer.update(update)
    return update


E1, E2 = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0])
NAMES = ["end", "agrees", "conflicts", "orthogonal"]
PLANTED = [E1, E1 + E2, -E1 + E2, E2]  # cosines with the end-task's: 1, 0.707, -0.707, 0


# GCS -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["gate", "weighted"])
def test_gcs_step_matches_direct_computation(tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variant: str) -> None:
    loop = loop_for(tiny, {"type": "gcs", "variant": variant}, tmp_path)
    loop.step(1)
    recomputed = recompute_step(loop, monkeypatch, 2)
    grads = recomputed.grads
    cosines = torch.stack([nn.functional.cosine_similarity(grads[0], g, dim=0) for g in grads[1:]])
    gates = (cosines > 0).float() if variant == "gate" else cosines.clamp(min=0)
    coefficients = torch.cat([torch.ones(1), gates])
    update = sum(c * g for c, g in zip(coefficients, grads)) / coefficients.sum()
    torch.testing.assert_close(loop.weighter.cosines[1:], cosines, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(loop.weighter.weights(), coefficients / coefficients.sum())
    torch.testing.assert_close(loop.flat.grad, update, rtol=1e-4, atol=1e-7)
    assert_head_grads_scaled(loop, recomputed, torch.full((3,), 1 / 3))  # heads as under MT-TARTAN
    assert cosines.abs().min() > 1e-3  # non-trivial cosines


@pytest.mark.parametrize("variant, coefficients", [("gate", [1, 1, 0, 0]), ("weighted", [1, 0.5 ** 0.5, 0, 0])])
def test_gcs_on_planted_gradients(variant: str, coefficients: list[float]) -> None:
    weighter = build(Weighter, {"type": "gcs", "variant": variant})
    update = planted(weighter, NAMES, PLANTED)
    expected = torch.tensor(coefficients)
    torch.testing.assert_close(weighter.weights(), expected / expected.sum())
    torch.testing.assert_close(update, sum(c * g for c, g in zip(expected, PLANTED)) / expected.sum())
    torch.testing.assert_close(weighter.cosines, torch.tensor([1, 0.5 ** 0.5, -(0.5 ** 0.5), 0]))
    assert set(weighter.scalars()) == {"cosine/agrees", "cosine/conflicts", "cosine/orthogonal"}


def test_gcs_with_every_auxiliary_agreeing_is_uniform() -> None:
    weighter = build(Weighter, {"type": "gcs"})
    grads = [E1, E1 + 0.1 * E2, 2 * E1 - E2 * 0.3]
    update = planted(weighter, NAMES[:3], grads)
    torch.testing.assert_close(update, sum(grads) / 3)
    torch.testing.assert_close(weighter.weights(), torch.full((3,), 1 / 3))


# PCGrad ----------------------------------------------------------------------------------------


def pcgrad_directly(grads: list[torch.Tensor], orders: list[list[int]]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Yu et al.'s Algorithm 1 on the vectors themselves; the update is the mean of the projections."""
    projected = []
    for i, order in enumerate(orders):
        g = grads[i].clone()
        for j in order:
            dot = torch.dot(g, grads[j])
            if dot < 0:
                g = g - dot / grads[j].square().sum() * grads[j]
        projected.append(g)
    return sum(projected) / len(grads), projected


@pytest.mark.parametrize("mode", ["all_pairs", "end_task"])
def test_pcgrad_step_matches_direct_computation(tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    loop = loop_for(tiny, {"type": "pcgrad", "mode": mode}, tmp_path)
    loop.step(1)
    recomputed = recompute_step(loop, monkeypatch, 2)
    grads = recomputed.grads
    orders = loop.weighter.projection_orders(len(grads))
    update, _ = pcgrad_directly(grads, orders)
    torch.testing.assert_close(loop.flat.grad, update, rtol=1e-4, atol=1e-7)
    assert_head_grads_scaled(loop, recomputed, torch.full((3,), 1 / 3))
    assert loop.weighter.projections.sum() > 0  # the step did project something
    assert not torch.allclose(update, sum(grads) / len(grads), rtol=1e-3)
    assert isinstance(loop.weighter, AllGradientsWeighter) and loop.mixer.buffers.shape == (len(grads), len(loop.flat))


def test_pcgrad_all_pairs_orders_are_random_permutations_seeded_by_the_step() -> None:
    weighter = build(Weighter, {"type": "pcgrad"})
    planted(weighter, ["a", "b", "c", "d", "e"], [E1, E2, E1, E2, E1], end_task="a")
    orders = [weighter.projection_orders(5) for _ in range(2)]
    assert orders[0] == orders[1]  # a function of seed and step, so a resumed run draws the same
    assert all(sorted(order) == [j for j in range(5) if j != i] for i, order in enumerate(orders[0]))
    weighter.begin_step(2)
    assert weighter.projection_orders(5) != orders[0]


def test_pcgrad_on_planted_gradients() -> None:
    # Agreeing and orthogonal gradients are left alone: the update is MT-TARTAN's mean.
    for grads in ([E1, E1 + E2], [E1, E2]):
        weighter = build(Weighter, {"type": "pcgrad"})
        torch.testing.assert_close(planted(weighter, NAMES[:2], grads), sum(grads) / 2)
        assert weighter.projections.sum() == 0
        torch.testing.assert_close(weighter.weights(), torch.tensor([0.5, 0.5]))
    # Conflicting, all pairs: each is projected off the other, (e1 + e2) / 2 and e2, mean (0.25, 0.75).
    weighter = build(Weighter, {"type": "pcgrad"})
    update = planted(weighter, NAMES[:2], [E1, -E1 + E2])
    torch.testing.assert_close(update, torch.tensor([0.25, 0.75, 0.0]))
    assert weighter.projections.tolist() == [1, 1]
    # Shares of the original gradients: 0.25 e1 + 0.75 e2 = 1.0 e1 + 0.75 (-e1 + e2).
    torch.testing.assert_close(weighter.weights(), torch.tensor([1 / 1.75, 0.75 / 1.75]))
    # End-task mode: only the conflicting auxiliary gradient moves, onto e2; the end-task's stays.
    weighter = build(Weighter, {"type": "pcgrad", "mode": "end_task"})
    update = planted(weighter, NAMES, PLANTED)
    torch.testing.assert_close(update, (E1 + (E1 + E2) + E2 + E2) / 4)
    assert weighter.projections.tolist() == [0, 0, 1, 0]
    torch.testing.assert_close(weighter.cosines[1:], torch.tensor([0.5 ** 0.5, -(0.5 ** 0.5), 0]))


# Uncertainty weighting -------------------------------------------------------------------------


def test_uncertainty_step_matches_direct_computation(tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loop = loop_for(tiny, {"type": "uncertainty", "lr": 0.05, "initial_log_variance": 0.3}, tmp_path)
    weighter = loop.weighter
    loop.step(1)
    # The same Adam, on the vector of log-variances, from the weighter's state after step 1.
    log_variances = nn.Parameter(torch.stack(weighter.log_variances).detach().clone())
    optimizer = torch.optim.Adam([log_variances], lr=0.05)
    optimizer.load_state_dict(vector_adam_state(weighter))
    recomputed = recompute_step(loop, monkeypatch, 2)
    precisions = torch.exp(-log_variances.detach())
    objective = (torch.exp(-log_variances) * torch.stack(recomputed.losses) + log_variances / 2).sum()
    optimizer.zero_grad()
    objective.backward()
    optimizer.step()
    torch.testing.assert_close(loop.flat.grad, sum(p * g for p, g in zip(precisions, recomputed.grads)), rtol=1e-4, atol=1e-7)
    assert_head_grads_scaled(loop, recomputed, precisions)
    torch.testing.assert_close(torch.stack(weighter.log_variances).detach(), log_variances.detach())
    torch.testing.assert_close(weighter.weights(), precisions / precisions.sum())
    assert (log_variances.detach() - 0.3).abs().min() > 0.05  # two Adam steps moved every s_i


def vector_adam_state(weighter: Any) -> dict[str, Any]:
    """The weighter's per-task Adam state as the state of one Adam on the vector of log-variances."""
    state = weighter.optimizer.state_dict()
    per_task = [state["state"][i] for i in range(len(weighter.log_variances))]
    stacked = {key: torch.stack([s[key] for s in per_task]) for key in ("exp_avg", "exp_avg_sq")}
    return {"state": {0: {"step": per_task[0]["step"].clone(), **stacked}}, "param_groups": [{**state["param_groups"][0], "params": [0]}]}


def test_uncertainty_weights_ignore_directions_and_settle_at_one_over_twice_the_loss() -> None:
    names, losses = ["end", "mid", "large"], [0.5, 2.0, 8.0]
    for grads in ([E1, E1 + E2, E1], [E1, -E1 + E2, -E1], [E1, E2, E2 * 3]):  # agreeing, conflicting, orthogonal
        weighter = build(Weighter, {"type": "uncertainty"})
        update = planted(weighter, names, grads, losses)
        torch.testing.assert_close(update, sum(grads))  # s = 0: every weight 1, the plain sum
        torch.testing.assert_close(weighter.weights(), torch.full((3,), 1 / 3))
    weighter = build(Weighter, {"type": "uncertainty", "lr": 0.05})
    for _ in range(600):
        planted(weighter, names, [E1, E2, E1], losses)
    torch.testing.assert_close(weighter.precisions, 1 / (2 * torch.tensor(losses)), rtol=0.05, atol=0)
    weights = weighter.weights()
    assert weights[0] > weights[1] > weights[2]
    assert set(weighter.scalars()) == {f"log_variance/{name}" for name in names}


def test_uncertainty_non_finite_loss_leaves_its_log_variance_finite() -> None:
    weighter = build(Weighter, {"type": "uncertainty"})
    planted(weighter, ["end", "aux"], [E1, E2], [1.0, float("nan")])
    assert all(math.isfinite(float(s.detach())) for s in weighter.log_variances)


# All gradients at once: the tutorial's plug-in ------------------------------------------------


def test_the_tutorial_all_gradients_weighter_trains_as_written(
    tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: Any
) -> None:
    module = tmp_path / "and_mask_tutorial.py"
    module.write_text(tutorial_files()["plugins/and_mask.py"])
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("and_mask_tutorial")
    loop = loop_for(tiny, {"type": "and_mask", "agreement": 1.0}, tmp_path / "run")
    loop.step(1)
    recomputed = recompute_step(loop, monkeypatch, 2)
    grads = torch.stack(recomputed.grads)
    agree = grads.sign().mean(0).abs() >= 1.0
    torch.testing.assert_close(loop.flat.grad, grads.mean(0) * agree, rtol=1e-4, atol=1e-7)
    assert 0 < float(agree.float().mean()) < 1  # some coordinates kept, some masked
    assert loop.weighter.scalars()["and_mask/kept"] == pytest.approx(float(agree.float().mean()))


# Shared ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("weighter", [{"type": "gcs"}, {"type": "pcgrad", "mode": "end_task"}])
def test_end_task_comparisons_need_the_end_task(weighter: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match=r"compares each task's gradient with the end-task's"):
        planted(build(Weighter, weighter), ["tapt", "dapt"], [E1, E2])


WEIGHTERS = [{"type": "gcs", "variant": "weighted"}, {"type": "pcgrad"}, {"type": "uncertainty"}]


@pytest.mark.parametrize("weighter", WEIGHTERS, ids=lambda w: w["type"])
def test_a_killed_run_resumes_bit_identically(tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, weighter: dict[str, Any]) -> None:
    config = tiny(max_steps=4, eval_every=2, checkpoint_every=2)
    config["weighter"] = weighter
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    run_experiment(config, reference, CPU, show_progress=False)
    kills = [3]

    def kill(step: int) -> None:
        if kills and step == kills[0]:
            kills.pop()
            raise RuntimeError("killed")

    after_step(monkeypatch, kill)
    with pytest.raises(RuntimeError, match="killed"):
        run_experiment(config, killed, CPU, show_progress=False)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    resumed = resume_in_a_new_second(["run", str(config_file), "-s", str(killed), "--resume", "--device", "cpu", "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    metrics = [without_wall_time(json.loads((d / "metrics.json").read_text())) for d in (killed, reference)]
    assert metrics[0] == metrics[1]
    (ours, our_state), (theirs, their_state) = (TrainingCheckpoint(d / "checkpoint").load() for d in (killed, reference))
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs) and ours.keys() == theirs.keys()
    assert same(our_state["weighter"], their_state["weighter"])
    best = [load_file(str(d / "best" / "model.safetensors")) for d in (killed, reference)]
    assert all(torch.equal(best[0][k], best[1][k]) for k in best[1])
    logged = [scalars(d) for d in (killed, reference)]
    assert logged[0] == logged[1]
    assert {f"weights/{task}" for task in ("tiny", "tapt", "dapt")} <= set(logged[1])


CONFIGS = Path(__file__).resolve().parents[1] / "experiments"


@pytest.mark.parametrize("method", ["gcs", "pcgrad", "uncertainty"])
def test_baseline_configs_differ_from_mt_only_in_the_weighter(method: str) -> None:
    from tartan_fw.common.config import load_config

    pairs = [(f"{task}_mt", f"{task}_{method}") for task in ("chemprot", "citation_intent", "sciie", "hyperpartisan")]
    pairs += [("quickstart", f"quickstart_{method}"), ("citation_intent_control_mt", f"citation_intent_control_{method}")]
    for mt, other in pairs:
        ours, theirs = (load_config(CONFIGS / f"{name}.jsonnet") for name in (other, mt))
        assert ours.pop("weighter") == {"type": method} and theirs.pop("weighter") == {"type": "uniform"}
        ours.pop("description"), theirs.pop("description")
        assert ours == theirs, other
