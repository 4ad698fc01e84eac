"""Dev evaluation, best-model selection and early stopping."""

from __future__ import annotations

from typing import Any

from tartan_fw.training.callbacks.base import Callback, Loop
from tartan_fw.training.checkpoint import save_end_task_model


@Callback.register("evaluation")
class Evaluation(Callback):
    """Evaluates the end-task on dev every ``eval_every`` steps of the stage and at its last step.

    The end-task's ``select_on`` says which dev rows are compared: all, or ``dev_unseen``, those whose text
    is not in train. A score above ``state.best_score`` (at first the previous stage's best) saves the body and
    end-task head to ``best/model.safetensors``; ``patience`` evaluations without improvement
    end the stage (null: never). A stage whose ``eval_every`` is null never evaluates.
    """

    def __init__(self) -> None:
        self.bad_evaluations = 0

    def on_step_end(self, loop: Loop) -> None:
        schedule, state, run = loop.stage.schedule, loop.state, loop.run
        step = state.steps_done
        if schedule.eval_every is None or (step % schedule.eval_every and step != schedule.max_steps):
            return
        metric, select_on = run.end_task.metric, run.end_task.select_on
        evaluation = loop.evaluate("dev")
        dev = evaluation.metrics
        selected = run.unseen(evaluation).metrics if select_on == "dev_unseen" else dev
        run.logger.scalars({f"eval/{k}": v for k, v in dev.items()}, state.global_step)
        if select_on == "dev_unseen":
            run.logger.scalars({f"eval/dev_unseen/{k}": v for k, v in selected.items()}, state.global_step)
        if selected[metric] > state.best_score:
            state.best_score, state.best_step, state.best_dev = selected[metric], state.global_step, dev
            self.bad_evaluations = 0
            if run.parallel.is_main:
                save_end_task_model(run.body, run.end_task.head, run.best_path)
        else:
            self.bad_evaluations += 1
        loop.control.should_stop_stage = schedule.patience is not None and self.bad_evaluations >= schedule.patience
        loop.control.status = f"{select_on} {metric} {selected[metric]:.4f} (best {state.best_score:.4f})"

    def state_dict(self) -> dict[str, Any]:
        return {"bad_evaluations": self.bad_evaluations}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.bad_evaluations = state["bad_evaluations"]
