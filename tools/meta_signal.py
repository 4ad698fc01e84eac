"""What META-TARTAN's task weights respond to, measured on a run's last checkpoint (or, for a run
that finished without one, its best model: body and end-task head, the auxiliary heads as initialised).

For ``--batches`` paired draws it takes every task's body gradient on a training batch (as a
step does) and the end-task's dev meta-gradient with the meta head fitted each way META-TARTAN
can fit it (``--sources``): phi* on a dev sample kept apart from the scored rows (``dev``, the
default), on an independent training batch (``train``), on the step's own end-task batch
(``step``), or the end-task's own head phi' (``same_head``, Equation 6). It reports each task's
mean cosine with each meta-gradient (the quantity that moves the task's logit) with its standard
error, and the paired difference of every source from the first one. It runs the weighter's own
code with the run's settings, so it shows what training saw, averaged over many batches instead
of one per step.

The end-task's cosine through phi' doubles as an overfitting signal: near zero or below, its
training batches no longer point where its dev loss falls.

    python tools/meta_signal.py runs/quickstart/meta/seed0 --batches 200   # the last checkpoint
    python tools/meta_signal.py runs/quickstart/meta/seed0 --at-init       # same data, untrained model
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import replace
from pathlib import Path

import torch

from tartan_fw.common.files import read_json
from tartan_fw.common.from_config import build
from tartan_fw.errors import TartanError
from tartan_fw.run_directory import RunDirectory, read_run_config
from tartan_fw.runner import training_loop
from tartan_fw.training.checkpoint import (
    TrainingCheckpoint, load_end_task_model, load_module_tensors, training_modules,
)
from tartan_fw.training.trainer import StageLoop
from tartan_fw.weighters import MetaWeighter, TaskGradient, Weighter, WeighterContext


def task_gradient(loop: StageLoop, index: int) -> TaskGradient:
    """One training batch's body gradient as the trainer takes it (``StageLoop.task_gradient``), kept."""
    gradient = loop.task_gradient(index, loop.tasks[index].next_batch())
    return replace(gradient, body_grad=gradient.body_grad.clone())  # the loop's buffer takes the next task's


SOURCES = ("dev", "train", "step", "same_head")


def meta_weighter(config: dict, source: str) -> MetaWeighter:
    """The run's META settings (defaults for a run with fixed weights) with phi* fitted from ``source``."""
    settings = config.get("weighter") or {}
    settings = settings if settings.get("type") == "meta" else {"type": "meta"}
    fitting = {"same_head": True} if source == "same_head" else {"same_head": False, "meta_source": source}
    return build(Weighter, {**settings, **fitting, "update_every": 1}, "weighter")


def mean_and_error(values: list[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(values), "se": statistics.stdev(values) / len(values) ** 0.5}


def load_trained(loop: StageLoop, directory: Path) -> int:
    """The last checkpoint into the loop's modules, else the best model a finished run kept; its step."""
    files, checkpoint = RunDirectory(directory), TrainingCheckpoint(directory / "checkpoint")
    if checkpoint.exists():
        tensors, _ = checkpoint.load()
        load_module_tensors(training_modules(loop.run.body, loop.tasks), tensors, checkpoint.directory)
        return checkpoint.global_step()
    if not files.best_model.exists():
        raise TartanError(f"{directory}: neither a checkpoint/ nor a best model to measure; pass a run that "
                          f"trained, or --at-init")
    load_end_task_model(loop.run.body, loop.run.end_task.head, files.best_model)
    metrics = read_json(files.metrics, "pass a finished run") if files.metrics.exists() else {}
    return metrics.get("best_step") or 0


def measure(directory: Path, batches: int, at_init: bool, sources: tuple[str, ...] = SOURCES) -> dict:
    config = read_run_config(directory)
    if "stages" in config:
        raise SystemExit(f"{directory}: a pipeline; pass the directory of one of its stages")
    # The run's own loop, built as training builds it; the checkpoint (or the fresh model) replaces the body.
    loop = training_loop({**config, "init_from": None}, directory)
    run, tasks = loop.run, loop.tasks
    step = 0 if at_init else load_trained(loop, directory)
    context = WeighterContext(run.body, loop.flat.parameters, run.end_task, run.device, run.autocast, run.seed)
    weighters = {source: meta_weighter(config, source) for source in sources}
    for weighter in weighters.values():
        weighter.setup([t.name for t in tasks], context)
    run.body.train()
    for task in tasks:
        task.head.train()
    cosines: dict[str, list[list[float]]] = {source: [] for source in weighters}
    for draw in range(1, batches + 1):
        gradients = [task_gradient(loop, i) for i in range(len(tasks))]
        for source, weighter in weighters.items():
            weighter.begin_step(draw)
            for gradient in gradients:
                weighter.coefficient(gradient)
            cosines[source].append(weighter.cosines.tolist())
    first = sources[0]
    return {
        "run": str(directory),
        "step": step,
        "batches": batches,
        "draws": cosines,  # per source, per draw, per task (the first draw at initialisation is training's step 1)
        "tasks": {
            task.name: {
                source: mean_and_error([row[i] for row in rows]) for source, rows in cosines.items()
            }
            for i, task in enumerate(tasks)
        },
        "paired_difference_from": first,
        "differences": {
            task.name: {
                source: mean_and_error([row[i] - base[i] for row, base in zip(rows, cosines[first])])
                for source, rows in cosines.items() if source != first
            }
            for i, task in enumerate(tasks)
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--batches", type=int, default=20, help="paired draws of one batch per task (at least 2)")
    parser.add_argument("--sources", default=",".join(SOURCES),
                        help=f"meta heads to compare, the first the reference (default {','.join(SOURCES)})")
    parser.add_argument("--at-init", action="store_true", help="the run's model as initialised, not its checkpoint")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    sources = tuple(args.sources.split(","))
    if args.batches < 2:
        parser.error("--batches must be at least 2")
    if unknown := sorted(set(sources) - set(SOURCES)):
        parser.error(f"--sources: unknown {', '.join(unknown)} (choose from {', '.join(SOURCES)})")
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        result = measure(args.run_dir, args.batches, args.at_init, sources)
    except TartanError as err:
        raise SystemExit(f"error: {err}") from None
    where = "at initialisation" if args.at_init else f"at step {result['step']}"
    print(f"{args.run_dir} {where}: cosine with the dev meta-gradient, mean ± s.e. over {args.batches} paired draws")
    print(f"{'phi* fitted on':14s} " + " ".join(f"{name:>16s}" for name in result["tasks"]))
    for source in sources:
        cells = [f"{v[source]['mean']:+.3f} ± {v[source]['se']:.3f}" for v in result["tasks"].values()]
        print(f"{source:14s} " + " ".join(f"{cell:>16s}" for cell in cells))
    for source in sources[1:]:
        cells = [f"{v[source]['mean']:+.3f} ± {v[source]['se']:.3f}" for v in result["differences"].values()]
        print(f"{source + ' - ' + sources[0]:14s} " + " ".join(f"{cell:>16s}" for cell in cells))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
