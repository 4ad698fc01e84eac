"""What META-TARTAN's task weights respond to, measured on a run's last checkpoint.

For ``--batches`` draws it takes every task's body gradient on a training batch (as a step does)
and the end-task's dev meta-gradient, through a freshly fitted meta head phi* (Equation 7, the
run's weighter settings) and through the end-task's own head phi' (Equation 6, ``same_head``),
and reports each task's mean cosine with each: the quantity that moves the task's logit. It runs
the weighter's own code, so it shows what training saw, averaged over many batches instead of
one per step.

The end-task's cosine through phi' doubles as an overfitting signal: near zero or below, its
training batches no longer point where its dev loss falls.

    python tools/meta_signal.py runs/quickstart/meta/seed0             # the last checkpoint
    python tools/meta_signal.py runs/quickstart/meta/seed0 --at-init   # same data, untrained model
"""

from __future__ import annotations

import argparse
import json
import statistics
from contextlib import nullcontext
from pathlib import Path

import torch

from tartan_fw.common.from_config import build
from tartan_fw.experiment import Experiment, prepare, read_run_config
from tartan_fw.training.checkpoint import TrainingCheckpoint, load_module_tensors, training_modules
from tartan_fw.training.flat import unique_parameters
from tartan_fw.weighters import MetaWeighter, TaskGradient, Weighter, WeighterContext


def task_gradient(index: int, task, body, parameters) -> TaskGradient:
    """One training batch's flat body gradient, normalised by its targets as the trainer does."""
    batch = task.next_batch()
    output = task.loss(body, batch)
    grads = torch.autograd.grad(output.total / batch["num_targets"].clamp(min=1), parameters, materialize_grads=True)
    features = output.features.detach() if output.features is not None else None
    return TaskGradient(index, torch.cat([g.reshape(-1) for g in grads]), features, output.labels)


def meta_weighter(config: dict, same_head: bool) -> MetaWeighter:
    """The run's META settings (defaults for a run with fixed weights), updating every step."""
    settings = config.get("weighter") or {}
    settings = settings if settings.get("type") == "meta" else {"type": "meta"}
    return build(Weighter, {**settings, "same_head": same_head, "update_every": 1}, "weighter")


def measure(directory: Path, batches: int, at_init: bool) -> dict:
    config = read_run_config(directory)
    if "stages" in config:
        raise SystemExit(f"{directory}: a pipeline; pass the directory of one of its stages")
    experiment = build(Experiment, config)
    experiment.init_from = None  # the checkpoint (or the fresh model) replaces the body
    device = torch.device("cpu")
    body, aux_tasks = prepare(experiment, device)
    tasks = [experiment.end_task, *aux_tasks]
    step = 0
    if not at_init:
        checkpoint = TrainingCheckpoint(directory / "checkpoint")
        tensors, _ = checkpoint.load()
        load_module_tensors(training_modules(body, tasks), tensors, checkpoint.directory)
        step = checkpoint.global_step()
    parameters = unique_parameters(body)
    context = WeighterContext(body, parameters, experiment.end_task, device, nullcontext, experiment.seed)
    weighters = {"phi*": meta_weighter(config, False), "phi'": meta_weighter(config, True)}
    for weighter in weighters.values():
        weighter.setup([t.name for t in tasks], context)
    body.train()
    for task in tasks:
        task.head.train()
    cosines: dict[str, list[list[float]]] = {label: [] for label in weighters}
    for draw in range(1, batches + 1):
        gradients = [task_gradient(i, task, body, parameters) for i, task in enumerate(tasks)]
        for label, weighter in weighters.items():
            weighter.begin_step(draw)
            for gradient in gradients:
                weighter.coefficient(gradient)
            cosines[label].append(weighter.cosines.tolist())
    return {
        "run": str(directory),
        "step": step,
        "batches": batches,
        "draws": cosines,  # per head, per draw, per task (the first draw at initialisation is training's step 1)
        "tasks": {
            task.name: {
                label: {"mean": statistics.fmean(row[i] for row in rows), "std": statistics.stdev(row[i] for row in rows)}
                for label, rows in cosines.items()
            }
            for i, task in enumerate(tasks)
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--batches", type=int, default=20, help="draws of one batch per task (at least 2)")
    parser.add_argument("--at-init", action="store_true", help="the run's model as initialised, not its checkpoint")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.batches < 2:
        parser.error("--batches must be at least 2")
    if args.threads:
        torch.set_num_threads(args.threads)
    result = measure(args.run_dir, args.batches, args.at_init)
    where = "at initialisation" if args.at_init else f"at step {result['step']}"
    print(f"{args.run_dir} {where}: cosine with the dev meta-gradient, mean ± std over {args.batches} batches")
    print(f"{'task':24s} {'through phi* (Eq. 7)':>22s} {'through phi_prime (Eq. 6)':>26s}")
    for name, values in result["tasks"].items():
        cells = [f"{values[label]['mean']:+.3f} ± {values[label]['std']:.3f}" for label in ("phi*", "phi'")]
        print(f"{name:24s} {cells[0]:>22s} {cells[1]:>26s}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
