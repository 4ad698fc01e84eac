"""META-TARTAN: task weights meta-learned from the end-task's dev gradient (Dery et al., 2022)."""

from __future__ import annotations

from typing import Any, Callable, Dict, Literal, Optional

import torch
from torch import nn

from tartan_fw.common.constraints import NonNegativeFloat, PositiveFloat, PositiveInt
from tartan_fw.data.batching import Batch, IndexStream, to_device
from tartan_fw.errors import ConfigurationError
from tartan_fw.weighters.base import TaskGradient, Weighter, WeighterContext

MetaSource = Literal["step", "train", "dev"]


class MetaHeadFitter:
    """phi*: an end-task head fitted on features of the frozen body (section 3.3).

    A head fitted to (near) convergence stands in for the end-task model at the end of training,
    so the dev gradient through it does not favour the end-task the way its own head phi' does
    (Equation 6). As in the authors' released code (ldery/TARTAN, ``learn_dev_head``): AdamW with
    betas (0.9, 0.98), at most ``steps`` steps, stopping once the loss changes by less than
    ``tolerance`` (0: always ``steps``). The body is frozen, so its features are computed once and
    the head is fitted on them, where the released code runs the body forward on every step.
    Each fresh head is initialised from a seed derived from the step, so phi* is reproducible and
    its initialisation draws nothing from the training's random state.
    """

    betas = (0.9, 0.98)  # the released code's --classf_betas

    def __init__(
        self, build: Callable[[], nn.Module], steps: int, lr: float, weight_decay: float, warm_start: bool,
        device: torch.device, tolerance: float = 0.0,
    ) -> None:
        self.build, self.steps, self.lr, self.weight_decay = build, steps, lr, weight_decay
        self.warm_start, self.device, self.tolerance = warm_start, device, tolerance
        self.head: Optional[nn.Module] = None
        self.optimizer: Optional[torch.optim.Optimizer] = None
        self.loss = torch.zeros((), device=device)
        self.accuracy = torch.zeros((), device=device)
        self.steps_taken = 0

    def fit(self, features: torch.Tensor, labels: torch.Tensor, seed: int) -> nn.Module:
        """Fit phi* by AdamW on mean cross-entropy over ``features``; returns it."""
        if self.head is None or not self.warm_start:
            self._fresh(seed)
        head, optimizer = self.head, self.optimizer
        previous = float("inf")
        for self.steps_taken in range(1, self.steps + 1):
            logits = head(features).float()
            loss = nn.functional.cross_entropy(logits, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if self.tolerance:
                # The released code's rule: stop once the loss moves by less than the tolerance. The
                # .item() waits for the device once per fitting step, on purpose: each wait idles the
                # device only while one small head step is launched. A rule without it would run all
                # ``steps`` steps on every fit, restore the stopping step's parameters and AdamW state
                # (warm_start keeps them), and its extra steps would draw dropout masks from the
                # training's random stream, changing every later draw. On CPU it waits for nothing.
                value = loss.item()
                if abs(value - previous) < self.tolerance:
                    break
                previous = value
        self.loss = loss.detach()
        self.accuracy = logits.detach().argmax(-1).eq(labels).float().mean()
        return head

    def _fresh(self, seed: int) -> None:
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), self.device:
            torch.manual_seed(seed)
            self.head = self.build()
        self.optimizer = torch.optim.AdamW(
            self.head.parameters(), lr=self.lr, weight_decay=self.weight_decay, betas=self.betas
        )

    def state_dict(self) -> dict[str, Any]:
        if not self.warm_start or self.head is None:
            return {}
        return {"head": self.head.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not state:
            return
        self._fresh(0)
        self.head.load_state_dict(state["head"])
        self.optimizer.load_state_dict(state["optimizer"])


@Weighter.register("meta")
class MetaWeighter(Weighter):
    """META-TARTAN (Dery et al., 2022, sections 3.2-3.3, Algorithm 1): learned task weights.

    Task i has a logit w_i; the body descends on ``sum_i softmax(w)_i g_i``. On an update step a
    meta head phi* is fitted on end-task features with the body frozen, the end-task dev loss
    through [body; phi*] gives the meta-gradient g_meta, and every logit moves by
    ``weight_lr * cos(g_meta, g_i)`` (Equation 7) before the softmax mixes this step's gradients.
    Heads update from their own unweighted gradients, as in Algorithm 1.

    The defaults are the authors' released run script (ldery/TARTAN ``run_meta_multiple.sh``):
    phi* is a fresh head each step, fitted on 32 dev examples (``--dev_batch_sz 32``) by AdamW at
    lr 1e-3, weight decay 0.1, at most 10 steps with a 1e-3 loss-change stop; the meta-gradient is
    the dev loss on 64 other dev examples (``--classf_iter_batchsz 64``); the logits move at 0.01
    (``--meta-lr-weight 1e-2``). Where we differ: the fitting and the scored dev rows are drawn
    disjoint (the released code samples them independently, so they share about
    ``32 * 64 / dev size`` rows, which brings back the bias below); with gradient accumulation one
    cosine is taken on the whole step's gradients, where the released code averages one per
    micro-step.

    The rows phi* is fitted on must be kept apart from the rows it scores (``meta_source``). Fitted
    to (near) interpolation on the very batch whose training gradient is then compared with the
    meta-gradient, phi* makes the end-task's cosine systematically negative and META turns the
    end-task down. ``tools/meta_signal.py`` measures this on any run; the measurements are in the
    documentation's deep dive on the meta head (``docs/concepts/meta-head.md``).

    The weighter streams: g_meta is computed when the end-task's gradient arrives (its features
    are then at hand), and each task's cosine, logit update and coefficient
    ``exp(w_i - c)`` follow as that task's gradient arrives; ``c = max(old w) + weight_lr`` bounds
    the new logits (|cos| <= 1), so no exponent overflows, and the normaliser is the sum of the
    terms. Memory is therefore a few body-sized buffers whatever the number of auxiliary tasks.

    There is no softmax temperature: scaling the logits by 1/T is the same as scaling
    ``weight_lr`` and ``initial_logits`` by 1/T. There is no weight floor: a floor needs every
    weight before the first coefficient, which would mean keeping a copy of every task gradient.
    The paper uses neither.

    Args:
        weight_lr: eta, the step size of the logits (released code 0.01; the paper's grid: 0.1,
            0.05, 0.03, 0.01).
        meta_head_steps, meta_head_lr, meta_head_weight_decay, meta_head_tolerance: fitting phi*
            with AdamW (the released code's 10 steps, 1e-3, 0.1 and 1e-3; tolerance 0 always takes
            every step).
        meta_batch_size: end-task examples phi* is fitted on (released code: 32 dev examples).
        dev_batch_size: end-task dev examples the meta-gradient is taken on (released code: 64);
            their forward and backward pass is META-TARTAN's main extra cost (tools/bench.py).
        meta_source: where phi*'s examples come from. ``dev`` (default): a fresh dev sample each
            update, disjoint from the scored dev rows; the dev split must hold
            ``meta_batch_size + dev_batch_size`` examples. ``step``: the current step's end-task
            training batch, at no extra cost, but biased against the end-task (above: phi* is
            fitted on the rows whose gradient it scores). ``train``: an independent training
            batch, one extra forward pass without gradients; unbiased in the deep dive's measurement
            but weaker (phi* fitted on train does not model dev).
        same_head: take the meta-gradient through the end-task's own head phi' without fitting
            anything (Equation 6; the section 3.3 / Figure 3 ablation).
        warm_start: keep phi* (and its optimiser) across steps and continue fitting it (the
            released code fits a fresh head every step).
        update_every: update the logits every this many steps; steps in between reuse the
            current weights and skip the meta-gradient.
        initial_logits: starting logits by task name (others start at 0; default all equal).
    """

    def __init__(
        self,
        weight_lr: NonNegativeFloat = 0.01,
        meta_head_steps: PositiveInt = 10,
        meta_head_lr: PositiveFloat = 1e-3,
        meta_head_weight_decay: NonNegativeFloat = 0.1,
        meta_head_tolerance: NonNegativeFloat = 1e-3,
        meta_batch_size: PositiveInt = 32,
        dev_batch_size: PositiveInt = 64,
        meta_source: MetaSource = "dev",
        same_head: bool = False,
        warm_start: bool = False,
        update_every: PositiveInt = 1,
        initial_logits: Optional[Dict[str, float]] = None,
    ) -> None:
        self.weight_lr = weight_lr
        self.meta_head_steps, self.meta_head_lr = meta_head_steps, meta_head_lr
        self.meta_head_weight_decay, self.meta_head_tolerance = meta_head_weight_decay, meta_head_tolerance
        self.meta_batch_size, self.dev_batch_size = meta_batch_size, dev_batch_size
        self.meta_source, self.same_head, self.warm_start = meta_source, same_head, warm_start
        self.update_every = update_every
        self.initial_logits = initial_logits or {}

    def setup(self, task_names: list[str], context: WeighterContext) -> None:
        super().setup(task_names, context)
        if task_names[0] != context.end_task.name:
            raise ConfigurationError(
                [f"weighter.type: 'meta' learns weights from the end-task's dev gradient and needs the end-task "
                 f"among the trained tasks (training {', '.join(task_names)}); use 'uniform' or 'fixed' here"]
            )
        unknown = sorted(set(self.initial_logits) - set(task_names))
        if unknown:
            raise ConfigurationError(
                [f"weighter.initial_logits: unknown task {', '.join(unknown)} (tasks: {', '.join(task_names)})"]
            )
        self.context = context
        device, end_task = context.device, context.end_task
        dev_size = end_task.split_size("dev")
        if self.fits_on_dev and self.meta_batch_size + self.dev_batch_size > dev_size:
            raise ConfigurationError(
                [f"weighter.meta_batch_size: phi* is fitted on {self.meta_batch_size} dev examples kept apart from the "
                 f"{self.dev_batch_size} it scores (weighter.dev_batch_size), but {end_task.name}'s dev split has "
                 f"{dev_size}; make the two sum to at most {dev_size}"]
            )
        self.logits = torch.tensor([float(self.initial_logits.get(n, 0.0)) for n in task_names], device=device)
        self.cosines = torch.zeros(len(task_names), device=device)
        self.norms = torch.zeros(len(task_names), device=device)
        first = context.body_parameters[0]
        size = sum(p.numel() for p in context.body_parameters)
        self.meta_grad = torch.zeros(size, dtype=first.dtype, device=first.device)
        self.meta_norm = torch.zeros((), device=device)
        self.total = torch.zeros((), device=device)
        self.shift = torch.zeros((), device=device)
        self.updating = False
        self.step = 0
        # A dev-fitted phi* draws its rows and the scored rows from one permutation per update, so
        # they are disjoint and resume needs no state; the other sources keep streams.
        self.dev_stream = None if self.fits_on_dev else IndexStream(dev_size, self.dev_batch_size, context.seed * 2 + 1)
        self.meta_stream = None
        if self.meta_source == "train" and not self.same_head:
            self.meta_stream = IndexStream(end_task.split_size("train"), self.meta_batch_size, context.seed * 2)
        self.fitter = MetaHeadFitter(
            lambda: end_task.build_head(context.body),
            self.meta_head_steps, self.meta_head_lr, self.meta_head_weight_decay, self.warm_start, device,
            self.meta_head_tolerance,
        )

    @property
    def fits_on_dev(self) -> bool:
        return self.meta_source == "dev" and not self.same_head

    def begin_step(self, step: int) -> None:
        self.step = step
        self.updating = (step - 1) % self.update_every == 0
        self.shift = self.logits.max() + (self.weight_lr if self.updating else 0.0)
        self.total.zero_()

    def coefficient(self, gradient: TaskGradient) -> torch.Tensor:
        index, grad = gradient.index, gradient.body_grad
        if self.updating:
            if index == 0:
                self._meta_gradient(gradient)
            norm = torch.linalg.vector_norm(grad)
            denominator = norm * self.meta_norm
            # Zero (an MLM batch without masked tokens) or non-finite gradients leave the logit alone.
            usable = torch.isfinite(denominator) & (denominator > 0)
            cosine = torch.where(usable, torch.dot(self.meta_grad, grad) / denominator, 0.0).clamp(-1, 1)
            self.norms[index] = norm
            self.cosines[index] = cosine
            self.logits[index] += self.weight_lr * cosine
        term = torch.exp(self.logits[index] - self.shift)
        self.total += term
        return term

    def normaliser(self) -> torch.Tensor:
        return self.total

    def weights(self) -> torch.Tensor:
        return torch.softmax(self.logits, 0).cpu()

    @property
    def meta_head(self) -> nn.Module:
        """The head the last meta-gradient went through (phi*, or phi' with ``same_head``)."""
        return self.context.end_task.head if self.same_head else self.fitter.head

    def _meta_gradient(self, gradient: TaskGradient) -> None:
        """g_meta: the end-task dev loss's gradient w.r.t. the body, through the meta head."""
        context = self.context
        fit_rows, scored_rows = self.rows()
        if self.same_head:
            head = self.meta_head
        else:
            head = self.fitter.fit(*self._meta_batch(gradient, fit_rows), self._seed())
        batch = self._batch(scored_rows, "dev")
        with context.autocast():
            logits = head(head.features(context.end_task.encode(context.body, batch)))
        loss = nn.functional.cross_entropy(logits.float(), batch["labels"])
        # autograd.grad, not backward: the .grad buffers hold the current task's gradient.
        grads = torch.autograd.grad(loss, context.body_parameters, materialize_grads=True)
        torch.cat([g.reshape(-1) for g in grads], out=self.meta_grad)
        self.meta_grad = context.all_reduce(self.meta_grad)
        self.meta_norm = torch.linalg.vector_norm(self.meta_grad)

    def rows(self) -> tuple[Optional[torch.Tensor], torch.Tensor]:
        """This update's rows: phi*'s (indices into ``meta_source``; None for ``step``) and the scored dev rows.

        Call once per update: the streams of ``step`` and ``train`` advance.
        """
        if self.fits_on_dev:
            # Its own seed: the fresh head's initialisation draws from _seed().
            draw = torch.Generator().manual_seed(self._seed() ^ 0x5EED)
            order = torch.randperm(self.context.end_task.split_size("dev"), generator=draw)
            return order[: self.meta_batch_size], order[self.meta_batch_size : self.meta_batch_size + self.dev_batch_size]
        fit_rows = self.meta_stream.next() if self.meta_stream is not None else None
        return fit_rows, self.dev_stream.next()

    def _meta_batch(self, gradient: TaskGradient, rows: Optional[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Features and labels phi* is fitted on: ``rows`` of ``meta_source``, or the step's own batch."""
        if rows is None:
            if gradient.features is None:
                raise ConfigurationError(
                    ["weighter.meta_source: 'step' needs the end-task's features, which this end-task does not "
                     "return; use 'dev'"]
                )
            features, labels = gradient.features, gradient.labels
            if len(features) > self.meta_batch_size:
                # Random rows: with length bucketing a batch is sorted, so its first rows are no sample.
                draw = torch.Generator().manual_seed(self._seed())
                rows = torch.randperm(len(features), generator=draw)[: self.meta_batch_size]
                rows = rows.to(features.device, non_blocking=True)
                features, labels = features[rows], labels[rows]
            return features.float(), labels
        batch = self._batch(rows, self.meta_source)
        head = self.context.end_task.head
        with torch.no_grad(), self.context.autocast():
            features = head.features(self.context.end_task.encode(self.context.body, batch))
        return features.float(), batch["labels"]

    def _batch(self, rows: torch.Tensor, split: str) -> Batch:
        return to_device(self.context.end_task.collate(rows, split), self.context.device)

    def _seed(self) -> int:
        return self.context.seed * 1_000_003 + self.step

    def scalars(self) -> dict[str, float]:
        rows = torch.stack([self.logits, self.cosines, self.norms]).tolist()
        values = {
            f"{prefix}/{name}": value
            for prefix, row in zip(("weight_logits", "cosine", "grad_norm"), rows)
            for name, value in zip(self.task_names, row)
        }
        if not self.same_head:
            values["meta_head/fit_loss"] = float(self.fitter.loss)
            values["meta_head/fit_accuracy"] = float(self.fitter.accuracy)
            values["meta_head/fit_steps"] = float(self.fitter.steps_taken)
        return values

    def state_dict(self) -> dict[str, Any]:
        return {
            "logits": self.logits.cpu(),
            "dev_stream": self.dev_stream.state_dict() if self.dev_stream is not None else None,
            "meta_stream": self.meta_stream.state_dict() if self.meta_stream is not None else None,
            "meta_head": self.fitter.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.logits.copy_(state["logits"])
        if self.dev_stream is not None and state["dev_stream"] is not None:
            self.dev_stream.load_state_dict(state["dev_stream"])
        if self.meta_stream is not None and state["meta_stream"] is not None:
            self.meta_stream.load_state_dict(state["meta_stream"])
        self.fitter.load_state_dict(state["meta_head"])
