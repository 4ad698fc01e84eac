"""The end-task aware trainer: one batch per task each step, mixed by the weighter."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Optional

import torch
from torch import nn

from tartan_fw.common.registrable import Registrable
from tartan_fw.data.batching import split_batch
from tartan_fw.training.checkpoint import load_end_task_model, save_end_task_model
from tartan_fw.training.flat import FlatParameters, unique_parameters
from tartan_fw.training.logging import RunLogger
from tartan_fw.training.metrics import classification_metrics
from tartan_fw.weighters import TaskGradient, UniformWeighter, Weighter, WeighterContext


@dataclass
class Run:
    """Everything a trainer works on, built by the experiment and passed in explicitly."""

    body: nn.Module
    end_task: Any
    aux_tasks: list[Any]
    weighter: Weighter
    directory: Path
    device: torch.device
    seed: int
    logger: RunLogger = field(default_factory=RunLogger)
    show_progress: bool = True

    @property
    def tasks(self) -> list[Any]:
        return [self.end_task, *self.aux_tasks]

    @property
    def best_path(self) -> Path:
        return self.directory / "best" / "model.safetensors"

    def autocast(self) -> Any:
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()

    def evaluate(self, split: str) -> dict[str, float]:
        self.body.eval()
        self.end_task.head.eval()
        predicted, gold = self.end_task.predict(self.body, split, self.device, self.autocast)
        self.body.train()
        self.end_task.head.train()
        return classification_metrics(predicted, gold)


@dataclass
class Schedule:
    """One training stage's length, learning rates and evaluation policy."""

    max_steps: int
    body_lr: float
    head_lr: float
    warmup_fraction: float
    eval_every: int
    patience: Optional[int]


class FinetuneStage:
    """Optional final fine-tuning on the end-task alone, from the best multitask checkpoint (section 3.1).

    Args:
        max_steps: steps of the stage; eval_every and patience as in the trainer.
        body_lr, head_lr: peak learning rates (linear warmup, then linear decay).
    """

    def __init__(
        self,
        max_steps: int = 1000,
        body_lr: float = 2e-5,
        head_lr: float = 2e-5,
        warmup_fraction: float = 0.06,
        eval_every: int = 100,
        patience: Optional[int] = None,
    ) -> None:
        self.schedule = Schedule(max_steps, body_lr, head_lr, warmup_fraction, eval_every, patience)


class Trainer(Registrable):
    family: ClassVar[str] = "trainer"
    default_implementation: ClassVar[Optional[str]] = "tartan"

    def fit(self, run: Run) -> dict[str, Any]:
        raise NotImplementedError


class EarlyStopping:
    """Tracks the best dev score; stops after ``patience`` evaluations without improvement."""

    def __init__(self, patience: Optional[int]) -> None:
        self.patience = patience
        self.best = -math.inf
        self.best_step = 0
        self.bad_evaluations = 0

    def update(self, score: float, step: int) -> bool:
        if score > self.best:
            self.best, self.best_step, self.bad_evaluations = score, step, 0
            return True
        self.bad_evaluations += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience is not None and self.bad_evaluations >= self.patience


@Trainer.register("tartan")
class TartanTrainer(Trainer):
    """Multitask training of the end-task with auxiliary tasks, then optional fine-tuning.

    Each step draws one batch per task, backpropagates the tasks one after another (so only
    one task's activations are alive at a time), lets the weighter mix the body gradients and
    takes one AdamW step. The end-task is evaluated on dev every ``eval_every`` steps; the best
    checkpoint is kept and the test set is evaluated once, on it.

    Args:
        max_steps: optimisation steps of the multitask stage.
        body_lr, head_lr: peak learning rates of the shared body and of the heads.
        weight_decay: AdamW weight decay.
        warmup_fraction: share of the steps with linear warmup (then linear decay to 0).
        max_grad_norm: gradient clipping over all parameters (null: none).
        accumulation_steps: micro-batches per task batch (same update, less memory).
        eval_every: steps between dev evaluations.
        patience: evaluations without improvement before stopping early (null: never).
        log_every: steps between logged training scalars.
        finetune: the optional final fine-tuning stage on the end-task alone.
    """

    def __init__(
        self,
        max_steps: int = 1000,
        body_lr: float = 1e-4,
        head_lr: float = 1e-3,
        weight_decay: float = 0.01,
        warmup_fraction: float = 0.06,
        max_grad_norm: Optional[float] = 1.0,
        accumulation_steps: int = 1,
        eval_every: int = 100,
        patience: Optional[int] = None,
        log_every: int = 10,
        finetune: Optional[FinetuneStage] = None,
    ) -> None:
        for name, value in (("max_steps", max_steps), ("accumulation_steps", accumulation_steps),
                            ("eval_every", eval_every), ("log_every", log_every)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        self.schedule = Schedule(max_steps, body_lr, head_lr, warmup_fraction, eval_every, patience)
        self.weight_decay = weight_decay
        self.max_grad_norm = max_grad_norm
        self.accumulation_steps = accumulation_steps
        self.log_every = log_every
        self.finetune = finetune

    def fit(self, run: Run) -> dict[str, Any]:
        started = time.perf_counter()
        stages = [StageLoop(self, run, "multitask", run.tasks, run.weighter, self.schedule, first_step=0).train()]
        if self.finetune is not None:
            load_end_task_model(run.body, run.end_task.head, run.best_path)
            alone = UniformWeighter()
            loop = StageLoop(self, run, "finetune", [run.end_task], alone, self.finetune.schedule, stages[-1]["steps_total"])
            finetuned = loop.train(baseline=stages[-1]["best_dev_score"])
            stages.append(finetuned)
        load_end_task_model(run.body, run.end_task.head, run.best_path)
        best = max(stages, key=lambda s: s["best_dev_score"])
        return {
            "metric": run.end_task.metric,
            "best_dev": best["best_dev"],
            "best_step": best["best_step"],
            "test": run.evaluate("test"),
            "steps": stages[-1]["steps_total"],
            "wall_time_s": time.perf_counter() - started,
            "tokens": {k: v for s in stages for k, v in s["tokens"].items()},
            "stages": stages,
        }


class StageLoop:
    """One training stage: the optimisation loop with evaluation, early stopping and logging."""

    def __init__(
        self, trainer: TartanTrainer, run: Run, name: str, tasks: list[Any], weighter: Weighter,
        schedule: Schedule, first_step: int,
    ) -> None:
        self.trainer, self.run, self.name, self.tasks = trainer, run, name, tasks
        self.weighter, self.schedule, self.first_step = weighter, schedule, first_step
        body_parameters = unique_parameters(run.body)
        self.flat = FlatParameters(body_parameters)
        body_ids = {id(p) for p in body_parameters}
        self.head_parameters = [unique_parameters(task.head, exclude=body_ids) for task in tasks]
        for parameter in (p for group in self.head_parameters for p in group):
            parameter.grad = torch.zeros_like(parameter)
        self.all_parameters = body_parameters + [p for group in self.head_parameters for p in group]
        self.combined = torch.zeros_like(self.flat.grad)
        fused = {"fused": True} if run.device.type == "cuda" else {}
        self.optimizer = torch.optim.AdamW(
            [{"params": body_parameters, "lr": schedule.body_lr},
             {"params": [p for group in self.head_parameters for p in group], "lr": schedule.head_lr}],
            weight_decay=trainer.weight_decay, **fused,
        )
        warmup = max(1, round(schedule.warmup_fraction * schedule.max_steps))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: min((s + 1) / warmup, max(0.0, (schedule.max_steps - s) / max(1, schedule.max_steps - warmup)))
        )
        context = WeighterContext(run.body, body_parameters, run.end_task, run.device, run.autocast, run.seed)
        weighter.setup([t.name for t in tasks], context)
        self.tokens: dict[str, int] = defaultdict(int)

    def step(self, step: int) -> dict[str, torch.Tensor]:
        """One optimisation step; returns each task's mean loss."""
        run, weighter = self.run, self.weighter
        weighter.begin_step(step)
        self.combined.zero_()
        torch._foreach_zero_([p.grad for group in self.head_parameters for p in group])
        losses = {}
        for index, task in enumerate(self.tasks):
            batch = task.next_batch()
            targets = batch["num_targets"].clamp(min=1).to(run.device, torch.float32)
            self.flat.grad.zero_()
            total = torch.zeros((), device=run.device)
            features, labels = [], []
            for micro in split_batch(batch, self.trainer.accumulation_steps):
                micro = {k: v.to(run.device, non_blocking=True) for k, v in micro.items()}
                with run.autocast():
                    output = task.loss(run.body, micro)
                (output.total / targets).backward()
                total += output.total.detach()
                if output.features is not None:
                    features.append(output.features.detach())
                    labels.append(output.labels)
            gradient = TaskGradient(
                index, self.flat.grad, torch.cat(features) if features else None, torch.cat(labels) if labels else None
            )
            coefficient = weighter.coefficient(gradient)
            if isinstance(coefficient, torch.Tensor):
                self.combined.addcmul_(self.flat.grad, coefficient)
            else:
                self.combined.add_(self.flat.grad, alpha=coefficient)
            scale = weighter.head_scale(index)
            if scale != 1.0 and self.head_parameters[index]:
                torch._foreach_mul_([p.grad for p in self.head_parameters[index]], scale)
            losses[task.name] = total / targets
            # Real tokens of text batches; batches without an attention mask (images) count examples.
            self.tokens[task.name] += int(batch["attention_mask"].sum() if "attention_mask" in batch else batch["num_targets"])
        self.flat.grad.copy_(self.combined).div_(weighter.normaliser())
        if self.trainer.max_grad_norm is not None:
            nn.utils.clip_grad_norm_(self.all_parameters, self.trainer.max_grad_norm, foreach=True)
        self.optimizer.step()
        self.scheduler.step()
        return losses

    def train(self, baseline: float = -math.inf) -> dict[str, Any]:
        """Train until ``max_steps`` or early stopping; a checkpoint is saved when dev beats ``baseline``."""
        run, schedule = self.run, self.schedule
        stopping = EarlyStopping(schedule.patience)
        stopping.best = baseline
        best_dev: dict[str, float] = {}
        run.body.train()
        for task in self.tasks:
            task.head.train()
        step = 0
        with _progress(run.show_progress, self.name, schedule.max_steps) as advance:
            for step in range(1, schedule.max_steps + 1):
                losses = self.step(step)
                global_step = self.first_step + step
                if step % self.trainer.log_every == 0:
                    self._log(losses, global_step)
                dev_text = ""
                if step % schedule.eval_every == 0 or step == schedule.max_steps:
                    dev = run.evaluate("dev")
                    run.logger.scalars({f"eval/{k}": v for k, v in dev.items()}, global_step)
                    if stopping.update(dev[run.end_task.metric], global_step):
                        best_dev = dev
                        save_end_task_model(run.body, run.end_task.head, run.best_path)
                    dev_text = f"dev {run.end_task.metric} {dev[run.end_task.metric]:.4f} (best {stopping.best:.4f})"
                advance(step, losses, dev_text)
                if stopping.should_stop:
                    break
        return {
            "name": self.name,
            "steps": step,
            "steps_total": self.first_step + step,
            "best_dev": best_dev,
            "best_dev_score": stopping.best,
            "best_step": stopping.best_step,
            "stopped_early": stopping.should_stop,
            "tokens": {f"{self.name}/{k}": v for k, v in self.tokens.items()},
        }

    def _log(self, losses: dict[str, torch.Tensor], step: int) -> None:
        logger = self.run.logger
        weights = self.weighter.weights()
        for index, task in enumerate(self.tasks):
            logger.scalar(f"train/loss/{task.name}", float(losses[task.name]), step)
            logger.scalar(f"weights/{task.name}", float(weights[index]), step)
        logger.scalars(self.weighter.scalars(), step)
        body_lr, head_lr = (group["lr"] for group in self.optimizer.param_groups)
        logger.scalars({"lr/body": body_lr, "lr/heads": head_lr}, step)


class _progress:
    """A rich progress bar showing the step, each task's loss and the dev metric."""

    def __init__(self, enabled: bool, name: str, total: int) -> None:
        self.enabled, self.name, self.total = enabled, name, total
        self.dev_text = ""

    def __enter__(self) -> Callable[[int, dict[str, torch.Tensor], str], None]:
        if not self.enabled:
            return lambda step, losses, dev: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
        )
        self.progress.start()
        self.job = self.progress.add_task(self.name, total=self.total, status="")
        return self.advance

    def advance(self, step: int, losses: dict[str, torch.Tensor], dev_text: str) -> None:
        self.dev_text = dev_text or self.dev_text
        if step % 5 == 0 or dev_text:
            text = " ".join(f"{k} {float(v):.3f}" for k, v in losses.items())
            self.progress.update(self.job, completed=step, status=f"{text} {self.dev_text}")
        else:
            self.progress.update(self.job, completed=step)

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            self.progress.stop()
