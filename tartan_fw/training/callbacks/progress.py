"""The run's journal from inside the loop: a plain progress line every ``log_every`` steps, and each
evaluation (log.txt, and stdout in a batch job)."""

from __future__ import annotations

import time

from tartan_fw.training.callbacks.base import Callback, Loop
from tartan_fw.training.logging import duration, journal


@Callback.register("progress_lines")
class ProgressLines(Callback):
    """Step, each task's loss and weight, the last dev score, elapsed and estimated remaining time."""

    def on_train_begin(self, loop: Loop) -> None:
        state, schedule = loop.state, loop.stage.schedule
        self.started, self.first = time.perf_counter(), state.steps_done
        tasks = loop.stage.tasks
        if len(tasks) == 1:  # nothing to weigh: say what runs, not the weighter a one-task stage carries
            alone = "the end-task %s alone (fine-tuning)" if tasks[0] is loop.run.end_task else "%s alone"
            journal.info("stage %s: steps %d to %d; " + alone, state.stage, state.steps_done + 1, schedule.max_steps,
                         tasks[0].name)
            return
        journal.info("stage %s: steps %d to %d; tasks %s; weighter %s", state.stage, state.steps_done + 1,
                     schedule.max_steps, ", ".join(task.name for task in tasks), type(loop.stage.weighter).__name__)

    def on_evaluate(self, loop: Loop) -> None:
        result, state, metric = loop.last_evaluation, loop.state, loop.run.end_task.metric
        if result is None or result.split != "dev":
            return
        scores = " ".join(f"{k} {v:.4f}" for k, v in result.metrics.items())
        journal.info("step %d: dev %s", state.global_step, scores)

    def on_step_end(self, loop: Loop) -> None:
        state, stage = loop.state, loop.stage
        step, total = state.steps_done, stage.schedule.max_steps
        if step % loop.settings.log_every and step != total:
            return
        weights = stage.weighter.weights()
        tasks = " ".join(f"{task.name} {float(loop.losses[task.name]):.3f} (w {float(weights[i]):.3f})"
                         for i, task in enumerate(stage.tasks))
        elapsed = time.perf_counter() - self.started
        remaining = elapsed / (step - self.first) * (total - step)
        journal.info("%s step %d/%d | loss %s | %selapsed %s, remaining ~%s", state.stage, step, total, tasks,
                     self._dev(loop), duration(elapsed), duration(remaining))

    @staticmethod
    def _dev(loop: Loop) -> str:
        """The last dev score and the best so far ('' in a stage that never evaluates)."""
        if loop.stage.schedule.eval_every is None:
            return ""
        metric, last, state = loop.run.end_task.metric, loop.last_evaluation, loop.state
        if last is None or last.split != "dev":
            return f"dev {metric} - | "
        return f"dev {metric} {last.metrics[metric]:.4f} (best {state.best_score:.4f} at step {state.best_step}) | "
