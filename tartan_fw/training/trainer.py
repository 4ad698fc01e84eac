"""The end-task aware trainer: one batch per task each step, mixed by the weighter."""

from __future__ import annotations

import math
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Callable, ClassVar, List, Optional, Sequence

import torch
from torch import nn

from tartan_fw.common.constraints import (
    NonNegativeFloat, PositiveFloat, PositiveInt, WarmupFraction, at_least, positive,
)
from tartan_fw.common.registrable import Registrable
from tartan_fw.data.batching import Batch, split_batch, to_device
from tartan_fw.errors import TartanError, TrainingInterrupted
from tartan_fw.common.from_config import Lazy
from tartan_fw.models.bodies import Body
from tartan_fw.run_directory import RunDirectory
from tartan_fw.tasks import AuxTask, EndTask, Task
from tartan_fw.training.callbacks import Callback, EvaluationResult, TrainerControl, TrainerState
from tartan_fw.training.callbacks.defaults import (
    ADDED_CALLBACKS, BUILT_IN_CALLBACKS, legacy_callback_state, stage_callbacks,
)
from tartan_fw.training.checkpoint import (
    TrainingCheckpoint, load_end_task_model, load_module_tensors, module_tensors, rng_state, set_rng_state,
    training_modules,
)
from tartan_fw.training.distributed import DataParallel
from tartan_fw.training.flat import LEFT_THE_BUFFER, FlatParameters, unique_parameters
from tartan_fw.training.head_warmup import HeadCheck, check_heads, head_report, warmup_stage
from tartan_fw.training.logging import RunLogger, journal
from tartan_fw.training.metrics import class_report, classification_metrics, majority_baseline
from tartan_fw.training.precision import Precision, autocast
from tartan_fw.training.results import RunMetrics, StageResult
from tartan_fw.training.stage import LoopSettings, Schedule, Stage
from tartan_fw.training.trackers import Tracker, tracker_callbacks
from tartan_fw.weighters import TaskGradient, UniformWeighter, Weighter, WeighterContext


# Clipping to norm 0 would zero every update; null is how to turn clipping off.
GradNorm = Annotated[float, positive(" (null: no clipping)")]
# Patience 0 would stop at the first evaluation, improved or not; null never stops early.
Patience = Annotated[int, at_least(1, " (null: never stop early)")]
# 0 would never checkpoint yet look like a setting; null checkpoints only when interrupted.
CheckpointEvery = Annotated[int, at_least(1, " (null: only when interrupted)")]
# Callbacks a config adds to the built-ins, which it can neither drop nor reorder (callbacks/defaults.py).
AddedCallbackList = Annotated[List[Lazy[Callback]], ADDED_CALLBACKS]


@dataclass
class Run:
    """Everything a trainer works on, built by the experiment and passed in explicitly."""

    body: Body
    end_task: EndTask
    aux_tasks: list[AuxTask]
    weighter: Weighter
    directory: Path
    device: torch.device
    seed: int
    logger: RunLogger = field(default_factory=RunLogger)
    show_progress: bool = True
    parallel: DataParallel = field(default_factory=DataParallel)  # this process among torchrun's
    resume: bool = False  # continue from ``checkpoint`` when there is one
    precision: Optional[torch.dtype] = None  # the autocast dtype (training/precision.py); None: fp32

    @property
    def tasks(self) -> list[Task]:
        return [self.end_task, *self.aux_tasks]

    @property
    def files(self) -> RunDirectory:
        return RunDirectory(self.directory)

    @property
    def best_path(self) -> Path:
        return self.files.best_model

    @property
    def checkpoint(self) -> TrainingCheckpoint:
        return TrainingCheckpoint(self.files.checkpoint)

    def load_best(self) -> None:
        self.parallel.barrier()  # rank 0 may have just written it
        load_end_task_model(self.body, self.end_task.head, self.best_path)

    def autocast(self) -> Any:
        return autocast(self.device, self.precision)

    def evaluate(self, split: str) -> EvaluationResult:
        """Rank 0 evaluates and shares the result, so every rank takes the same decisions on it."""
        return self.parallel.broadcast(self._evaluate(split) if self.parallel.is_main else None)

    def _evaluate(self, split: str) -> EvaluationResult:
        self.body.eval()
        self.end_task.head.eval()
        predicted, gold = self.end_task.predict(self.body, split, self.device, self.autocast)
        self.body.train()
        self.end_task.head.train()
        return EvaluationResult(split, classification_metrics(predicted, gold), predicted, gold)

    def unseen(self, result: EvaluationResult) -> EvaluationResult:
        """``result`` on the rows of its split whose text is not in train (``dev_unseen``, ``test_unseen``)."""
        return result.on_rows(self.end_task.overlap[result.split].unseen(), f"{result.split}_unseen")


class FinetuneStage:
    """Optional final fine-tuning on the end-task alone, from the best multitask checkpoint (section 3.1).

    Args:
        max_steps: steps of the stage.
        body_lr, head_lr: peak learning rates (linear warmup, then linear decay).
        warmup_fraction, eval_every, patience, max_epochs: as in the ``tartan`` trainer.
    """

    def __init__(
        self,
        max_steps: PositiveInt = 1000,
        body_lr: PositiveFloat = 2e-5,
        head_lr: PositiveFloat = 2e-5,
        warmup_fraction: WarmupFraction = 0.06,
        eval_every: PositiveInt = 100,
        patience: Optional[Patience] = None,
        max_epochs: Optional[PositiveFloat] = None,
    ) -> None:
        self.schedule = Schedule(max_steps, body_lr, head_lr, warmup_fraction, eval_every, patience, max_epochs)


class Trainer(Registrable):
    """Trains a ``Run``; ``precision`` (``training/precision.py``) is what the experiment builds the run with."""

    family: ClassVar[str] = "trainer"
    default_implementation: ClassVar[Optional[str]] = "tartan"
    precision: Precision = "fp32"
    report_to: Sequence[str] = ("tensorboard",)  # where the run's scalars go (training/trackers/)

    def fit(self, run: Run) -> RunMetrics:
        raise NotImplementedError


@dataclass
class Progress:
    """The run across its stages, saved in every checkpoint: finished stages and time spent so far."""

    completed: list[StageResult] = field(default_factory=list)
    elapsed_before: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    def elapsed(self) -> float:
        """Training time of this session and of the sessions before a resume."""
        return self.elapsed_before + time.perf_counter() - self.started

    def state_dict(self) -> dict[str, Any]:
        return {"completed": [stage.to_dict() for stage in self.completed], "elapsed_s": self.elapsed()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "Progress":
        return cls([StageResult(**stage) for stage in state["completed"]], state["elapsed_s"])


@Trainer.register("tartan")
class TartanTrainer(Trainer):
    """Multitask training of the end-task with auxiliary tasks, then optional fine-tuning.

    Each step draws one batch per task, backpropagates the tasks one after another (so only
    one task's activations are alive at a time), lets the weighter mix the body gradients and
    takes one AdamW step. The end-task is evaluated on dev every ``eval_every`` steps; the best
    checkpoint is kept and the test set is evaluated once, on it.

    Args:
        max_steps: optimisation steps of the multitask stage.
        max_epochs: instead of max_steps: passes over the end-task's training set (steps =
            ceil(epochs x training examples / end-task batch size), as the paper counts them).
        body_lr, head_lr: peak learning rates of the shared body and of the heads.
        weight_decay: AdamW weight decay.
        warmup_fraction: share of the steps with linear warmup (then linear decay to 0).
        max_grad_norm: gradient clipping over all parameters, above 0 (null: none; 0 would zero
            every update, so it is an error).
        accumulation_steps: micro-batches per task batch (same update, less memory); a batch with
            fewer examples is split into single examples.
        eval_every: steps between dev evaluations.
        patience: evaluations without improvement before stopping early, at least 1 (null: never).
        log_every: steps between logged training scalars.
        finetune: the optional final fine-tuning stage on the end-task alone.
        checkpoint_every: steps between resumable checkpoints in ``<run_dir>/checkpoint`` (null:
            only when interrupted); a killed run resumes from the last one.
        max_nonfinite_steps: a non-finite loss or gradient skips the step; this many in a row
            stop the run.
        compile: ``torch.compile`` the body for training (worth it on GPUs, for long runs: the
            first steps pay the compilation, and a second sequence length recompiles once, dynamic).
        head_warmup_steps: steps fitting the masked-LM heads that start untrained (measured by their
            loss on a fixed sample, ``training/head_warmup.py``), the body frozen, before the first
            stage (null: none; untrained heads then steer the body from the start).
        head_warmup_lr: the warm-up's peak learning rate (linear warmup, then decay).
        precision: what training, evaluation and META-TARTAN's dev passes compute in: ``bf16``
            autocast, ``fp32``, or ``auto`` (bf16 on CUDA and on CPUs with native bf16, else fp32).
            Weights, gradients, optimiser state and losses stay fp32 either way.
        callbacks: policy to add around the step (``training/callbacks/base.py`` documents the
            events), built afresh for each stage and called in list order after the built-ins
            (``tartan-fw list callback``; they read the settings above) and before
            ``checkpointing``, so the checkpoint holds their state. The built-ins always run (they
            select the model and keep the run resumable), so they may not be listed.
        report_to: where the run's scalars, config and final metrics go: ``tensorboard`` (written into the
            run directory), ``mlflow``, ``wandb`` (optional extras: ``pip install 'tartan-fw[mlflow]'``)
            or a plugin's tracker (docs/how-to/trackers.md); rank 0 only. The trackers run after the
            callbacks, one session for the whole run.
    """

    def __init__(
        self,
        max_steps: PositiveInt = 1000,
        max_epochs: Optional[PositiveFloat] = None,
        body_lr: PositiveFloat = 1e-4,
        head_lr: PositiveFloat = 1e-3,
        weight_decay: NonNegativeFloat = 0.01,
        warmup_fraction: WarmupFraction = 0.06,
        max_grad_norm: Optional[GradNorm] = 1.0,
        accumulation_steps: PositiveInt = 1,
        eval_every: PositiveInt = 100,
        patience: Optional[Patience] = None,
        log_every: PositiveInt = 10,
        finetune: Optional[FinetuneStage] = None,
        checkpoint_every: Optional[CheckpointEvery] = 500,
        max_nonfinite_steps: PositiveInt = 5,
        compile: bool = False,
        head_warmup_steps: Optional[PositiveInt] = 200,
        head_warmup_lr: PositiveFloat = 1e-3,
        precision: Precision = "auto",
        callbacks: Optional[AddedCallbackList] = None,
        report_to: Optional[List[str]] = None,
    ) -> None:
        self.precision = precision
        self.head_warmup_steps, self.head_warmup_lr = head_warmup_steps, head_warmup_lr
        self.schedule = Schedule(max_steps, body_lr, head_lr, warmup_fraction, eval_every, patience, max_epochs)
        self.settings = LoopSettings(weight_decay, max_grad_norm, accumulation_steps, log_every, checkpoint_every,
                                     max_nonfinite_steps, compile)
        self.finetune = finetune
        self.callbacks = stage_callbacks(callbacks or [])
        self.report_to = ["tensorboard"] if report_to is None else report_to
        self.trackers = tracker_callbacks(self.report_to)

    def warmup_stages(self, run: Run, checks: Optional[list[HeadCheck]] = None) -> list[Stage]:
        """The head warm-up, when a masked-LM head starts untrained (``checks``: measured now when not given)."""
        checks = check_heads(run) if checks is None else checks
        stage = warmup_stage(run, checks, self.head_warmup_steps, self.head_warmup_lr)
        return [stage] if stage is not None else []

    def stages(self, run: Run, checks: Optional[list[HeadCheck]] = None) -> list[Stage]:
        """The head warm-up where needed, multitask training, then optional fine-tuning of the end-task alone."""
        stages = self.warmup_stages(run, checks)
        stages.append(Stage("multitask", run.tasks, run.weighter, self.schedule.for_end_task(run.end_task)))
        if self.finetune is not None:
            stages.append(Stage("finetune", [run.end_task], UniformWeighter(),
                                self.finetune.schedule.for_end_task(run.end_task)))
        return stages

    def fit(self, run: Run) -> RunMetrics:
        """Train and evaluate; the trackers see the whole run, from the first stage to the final metrics."""
        trackers = [lazy.construct() for lazy in self.trackers]
        try:
            metrics = self.train_and_evaluate(run, trackers)
            for tracker in trackers:
                tracker.finish(metrics.to_dict())
            return metrics
        finally:
            for tracker in trackers:
                tracker.end()

    def train_and_evaluate(self, run: Run, trackers: list[Tracker]) -> RunMetrics:
        checks = check_heads(run)
        progress = self.train_stages(run, checks, trackers)
        journal.info("training done; evaluating the best model on dev and test")
        run.load_best()
        stages = progress.completed
        best = max((s for s in stages if s.best_dev_score is not None), key=lambda s: s.best_dev_score)
        dev, test = run.evaluate("dev"), run.evaluate("test")
        labels, train = run.end_task.labels, run.end_task.targets["train"]
        # the same predictions on the rows whose text is not in train (none for a task that knows no overlap)
        unseen = {result.split: run.unseen(result) for result in (dev, test) if result.split in run.end_task.overlap}
        return RunMetrics(
            metric=run.end_task.metric,
            best_dev=best.best_dev,
            best_step=best.best_step,
            test=test.metrics,
            majority_baseline={result.split: majority_baseline(train, result.gold, labels)
                               for result in (dev, test, *unseen.values()) if len(result.gold)},
            dev_report=class_report(dev.predicted, dev.gold, labels),
            test_report=class_report(test.predicted, test.gold, labels),
            steps=stages[-1].steps_total,
            wall_time_s=progress.elapsed(),
            tokens={k: v for s in stages for k, v in s.tokens.items()},
            stages=stages,
            mlm_heads=head_report(checks, warmed_losses(stages)),
            train_overlap={split: overlap.to_dict() for split, overlap in run.end_task.overlap.items()},
            dev_unseen=unseen["dev"].metrics if "dev" in unseen else {},
            test_unseen=unseen["test"].metrics if "test" in unseen else {},
            selected_on=run.end_task.select_on,
        )

    def loop(self, run: Run, stage: Stage, progress: Optional[Progress] = None,
             trackers: Sequence[Tracker] = ()) -> "StageLoop":
        """The loop of ``stage``, continuing from the stages ``progress`` holds as finished; the callbacks are
        built for it, the ``trackers`` (the run's) come after them."""
        progress = progress or Progress()
        previous = progress.completed[-1] if progress.completed else None
        state = TrainerState(
            stage.name, stage.schedule.max_steps, first_step=previous.steps_total if previous else 0,
            best_score=previous.best_dev_score if previous and previous.best_dev_score is not None else -math.inf,
        )
        callbacks = [lazy.construct() for lazy in self.callbacks] + list(trackers)
        return StageLoop(run, stage, self.settings, callbacks, state, progress)

    def train_stages(self, run: Run, checks: Optional[list[HeadCheck]] = None,
                     trackers: Sequence[Tracker] = ()) -> Progress:
        """Each stage in turn; a resumed run skips the finished ones and continues from its checkpoint.

        A stage after one that evaluated starts from the best checkpoint; after a head warm-up, from
        the warmed heads as they are.
        """
        if run.device.type == "cuda":
            torch.backends.cuda.matmul.fp32_precision = "tf32"
        resumed = run.checkpoint.load() if run.resume and run.checkpoint.exists() else None
        progress = Progress.from_state(resumed[1]["progress"]) if resumed else Progress()
        for stage in self.stages(run, checks)[len(progress.completed):]:
            loop = self.loop(run, stage, progress, trackers)
            if resumed is not None:
                loop.load_state_dict(*resumed)
                resumed = None
            elif progress.completed and progress.completed[-1].best_dev_score is not None:
                run.load_best()
            result = loop.train()
            if stage.frozen_body:
                result.head_losses = {task.name: task.sample_loss(run.body, run.device, run.autocast)
                                      for task in stage.tasks}
                journal.info("head warm-up done: loss per masked token on the fixed sample %s", ", ".join(
                    f"{name} {loss:.3f}" for name, loss in result.head_losses.items()))
            progress.completed.append(result)
        return progress


class StageLoop:
    """One training stage: the optimisation step, between the events its callbacks act on.

    Build one with ``TartanTrainer.loop`` (or ``runner.training_loop`` from a config).
    """

    def __init__(
        self, run: Run, stage: Stage, settings: LoopSettings, callbacks: list[Callback], state: TrainerState,
        progress: Progress,
    ) -> None:
        self.run, self.stage, self.settings, self.callbacks = run, stage, settings, callbacks
        self.state, self.progress, self.control = state, progress, TrainerControl()
        self.name, self.tasks, self.weighter, self.schedule = stage.name, stage.tasks, stage.weighter, stage.schedule
        tasks, weighter, schedule = self.tasks, self.weighter, self.schedule
        self.model = torch.compile(run.body) if settings.compile else run.body
        if stage.frozen_body:
            self.model = _WithoutGradients(self.model)
        body_parameters = unique_parameters(run.body)
        self.flat = FlatParameters(body_parameters)
        body_ids = {id(p) for p in body_parameters}
        self.head_parameters = [unique_parameters(task.head, exclude=body_ids) for task in tasks]
        self.head_grads = []
        for parameter in (p for group in self.head_parameters for p in group):
            parameter.grad = torch.zeros_like(parameter)
            self.head_grads.append(parameter.grad)
        trained_body = [] if stage.frozen_body else body_parameters  # a tied decoder's gradient is not applied
        self.all_parameters = trained_body + [p for group in self.head_parameters for p in group]
        fused = {"fused": True} if run.device.type == "cuda" else {}
        self.optimizer = torch.optim.AdamW(
            [{"params": trained_body, "lr": schedule.body_lr},
             {"params": [p for group in self.head_parameters for p in group], "lr": schedule.head_lr}],
            weight_decay=settings.weight_decay, **fused,
        )
        warmup = max(1, round(schedule.warmup_fraction * schedule.max_steps))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: min((s + 1) / warmup, max(0.0, (schedule.max_steps - s) / max(1, schedule.max_steps - warmup)))
        )
        context = WeighterContext(run.body, body_parameters, run.end_task, run.device, run.autocast, run.seed,
                                  all_reduce=run.parallel.mean)
        weighter.setup([t.name for t in tasks], context)
        self.mixer = weighter.mixer(self.flat.grad)
        self.losses: dict[str, torch.Tensor] = {}
        self.finite = True
        self.last_evaluation: Optional[EvaluationResult] = None

    @property
    def global_step(self) -> int:
        return self.state.global_step

    def step(self, step: int) -> dict[str, torch.Tensor]:
        """One optimisation step; returns each task's mean loss.

        A non-finite loss or gradient skips the update (``self.finite`` is then False): neither
        the parameters nor the optimiser state change. One check decides it, on the gradient norm
        (which clipping computes anyway) and the losses: the step's only wait for the device.
        """
        run, mixer, parallel = self.run, self.mixer, self.run.parallel
        mixer.begin_step(step)
        if self.head_grads:
            torch._foreach_zero_(self.head_grads)
        losses = torch.zeros(len(self.tasks), device=run.device)
        tokens = self.state.tokens
        for index, task in enumerate(self.tasks):
            batch = task.next_batch()
            # Real tokens of text batches; batches without an attention mask (images) count examples.
            tokens[task.name] = tokens.get(task.name, 0) + int(
                batch["attention_mask"].sum() if "attention_mask" in batch else batch["num_targets"])
            gradient = self.task_gradient(index, batch)
            losses[index] = gradient.loss
            scale = mixer.add(gradient)
            if scale is not None and self.head_parameters[index]:
                torch._foreach_mul_([p.grad for p in self.head_parameters[index]], scale)
        parallel.sum_all_(self.head_grads)
        mixer.update(self.flat.grad)
        if self.settings.max_grad_norm is not None:
            norm = nn.utils.clip_grad_norm_(self.all_parameters, self.settings.max_grad_norm, foreach=True)
        else:
            norm = nn.utils.get_total_norm([p.grad for p in self.all_parameters], foreach=True)
        self.finite = bool(torch.isfinite(norm) & torch.isfinite(losses).all())
        if self.finite:
            self.optimizer.step()
        self.scheduler.step()
        return {task.name: losses[index] for index, task in enumerate(self.tasks)}

    def task_gradient(self, index: int, batch: Batch) -> TaskGradient:
        """Task ``index``'s body gradient on ``batch``, in the flat buffer, with its mean loss and head features.

        Backpropagates ``accumulation_steps`` micro-batches of this rank's shard, each loss divided
        by the whole batch's targets, and sums over ranks. Head gradients accumulate into their
        ``.grad``. The buffer holds the next call's gradient afterwards. ``step`` calls it for each
        task; tools that measure what training sees (tools/meta_signal.py) call it so they cannot
        drift from it.
        """
        run, parallel, task = self.run, self.run.parallel, self.tasks[index]
        targets = float(batch["num_targets"].clamp(min=1))  # of the global batch, on every rank
        self.flat.grad.zero_()
        total = torch.zeros((), device=run.device)
        features, labels = [], []
        for micro in split_batch(parallel.shard(batch), self.settings.accumulation_steps):
            micro = to_device(micro, run.device)
            with run.autocast():
                output = task.loss(self.model, micro)
            (output.total / targets).backward()
            total += output.total.detach()
            if output.features is not None:
                features.append(output.features.detach())
                labels.append(output.labels)
        parallel.sum_(self.flat.grad)
        return TaskGradient(index, self.flat.grad, torch.cat(features) if features else None,
                            torch.cat(labels) if labels else None, parallel.sum_(total / targets))

    def train(self) -> StageResult:
        """Train until ``max_steps`` or early stopping, from where a loaded checkpoint left off."""
        run, state, control = self.run, self.state, self.control
        run.body.train()
        for task in self.tasks:
            task.head.train()
        self.check_buffers(f"stage {self.name}, at its start")
        self._dispatch("on_train_begin")
        try:
            with _progress(run.show_progress, self.name, state.max_steps, state.steps_done) as advance:
                while state.steps_done < state.max_steps and not state.stopped_early:
                    step = state.steps_done + 1
                    self.losses = self.step(step)
                    state.steps_done = step
                    self._dispatch("on_step_end")
                    advance(step, self.losses, control.status)
                    control.reset_step()
                    if control.interrupted_by is not None:
                        raise self._interrupted(control.interrupted_by)
        finally:
            for callback in self.callbacks:
                callback.on_train_end(self)
        return StageResult(
            name=self.name,
            steps=state.steps_done,
            steps_total=state.global_step,
            best_dev=state.best_dev,
            best_dev_score=state.best_score if math.isfinite(state.best_score) else None,  # None: no evaluation
            best_step=state.best_step,
            stopped_early=state.stopped_early,
            nonfinite_steps=state.nonfinite_steps,
            tokens={f"{self.name}/{k}": v for k, v in state.tokens.items()},
        )

    def _dispatch(self, event: str) -> None:
        """``event`` to every callback in order; the control's error stops the event at the callback that set it."""
        for callback in self.callbacks:
            getattr(callback, event)(self)
            if callback.name not in BUILT_IN_CALLBACKS:  # the built-ins never touch gradients
                self.check_buffers(f"callback '{callback.name}' ({event}, step {self.global_step})")
            if self.control.error is not None:
                raise self.control.error
            if self.control.should_stop_stage:
                self.state.stopped_early = True

    def check_buffers(self, where: str) -> None:
        """Every body gradient still a view of the flat buffer, every head gradient still the tensor the step
        zeroes in place (``flat.py``): ``where`` names the code that ran last, the likely culprit."""
        self.flat.check_views(where)
        head_parameters = (p for group in self.head_parameters for p in group)
        if not all(p.grad is grad for p, grad in zip(head_parameters, self.head_grads)):
            raise TartanError(f"{where}: {LEFT_THE_BUFFER}")

    def evaluate(self, split: str) -> EvaluationResult:
        """Evaluate the end-task on ``split`` and tell every callback (``on_evaluate``)."""
        self.last_evaluation = self.run.evaluate(split)
        self._dispatch("on_evaluate")
        return self.last_evaluation

    def _interrupted(self, number: int) -> TrainingInterrupted:
        """Says what the disk holds now, not what should have been written."""
        checkpoint, step = self.run.checkpoint, self.global_step
        saved = checkpoint.global_step() if checkpoint.exists() else None
        if saved == step:
            written = f" with a checkpoint in {checkpoint.directory}"
        elif saved is not None:
            written = f"; the last checkpoint, in {checkpoint.directory}, is of step {saved}, so a resume redoes the steps after it"
        else:
            written = "; no checkpoint was written, so a resume starts the run from the beginning"
        return TrainingInterrupted(
            f"{signal.Signals(number).name} received: stopped after step {step} ({self.name}){written}; "
            f"continue with: tartan-fw resume {self.run.directory}",
            number,
        )

    def _modules(self) -> dict[str, nn.Module]:
        """The body and every task's head (the whole run's, so any stage's checkpoint holds them all)."""
        return training_modules(self.run.body, self.run.tasks)

    def checkpoint_state(self) -> Optional[tuple[dict[str, torch.Tensor], dict[str, Any]]]:
        """Everything a resumed run needs to continue exactly; collective, returned on rank 0 only."""
        rng = self.run.parallel.gather(rng_state())
        if not self.run.parallel.is_main:
            return None
        state = {
            "stage": self.name,
            "trainer_state": self.state.state_dict(),
            "progress": self.progress.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "weighter": self.weighter.state_dict(),
            "tasks": {task.name: task.state_dict() for task in self.tasks},
            "callbacks": {c.name: c.state_dict() for c in self.callbacks},
            "rng": rng,
        }
        return module_tensors(self._modules()), state

    def load_state_dict(self, tensors: dict[str, torch.Tensor], state: dict[str, Any]) -> None:
        """Continue from a checkpoint of this stage (``progress`` was restored by the trainer)."""
        if state["stage"] != self.name:
            raise TartanError(
                f"{self.run.checkpoint.directory}: the checkpoint is of stage '{state['stage']}' but the trainer's next "
                f"stage is '{self.name}'; resume with the run's own config.json"
            )
        if "trainer_state" not in state:
            state = legacy_callback_state(state, self.state)
        load_module_tensors(self._modules(), tensors, self.run.checkpoint.directory)
        self.state.load_state_dict(state["trainer_state"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.weighter.load_state_dict(state["weighter"])
        for task in self.tasks:
            task.load_state_dict(state["tasks"][task.name])
        saved = state["callbacks"]
        for callback in self.callbacks:
            if callback.name in saved or callback.state_dict():  # a stateless one added since has nothing to restore
                callback.load_state_dict(saved[callback.name])
        rng = state["rng"]
        set_rng_state(rng[self.run.parallel.rank % len(rng)])


class _WithoutGradients:
    """The body's forward under ``no_grad``: the heads above it train, the body's graph is never built."""

    def __init__(self, body: Any) -> None:
        self.body = body

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with torch.no_grad():
            return self.body(*args, **kwargs)


def warmed_losses(stages: list[StageResult]) -> dict[str, float]:
    """The heads' sample losses at the end of the run's head warm-up (none without one)."""
    return {name: loss for stage in stages for name, loss in stage.head_losses.items()}


class _progress:
    """A rich progress bar showing the step, each task's loss and the dev metric."""

    def __init__(self, enabled: bool, name: str, total: int, completed: int = 0) -> None:
        self.enabled, self.name, self.total, self.completed = enabled, name, total, completed
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
        self.job = self.progress.add_task(self.name, total=self.total, completed=self.completed, status="")
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
