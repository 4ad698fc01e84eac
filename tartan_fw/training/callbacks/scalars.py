"""Training scalars every ``trainer.log_every`` steps: losses, task weights, weighter extras, learning rates."""

from __future__ import annotations

from tartan_fw.training.callbacks.base import Callback, Loop


@Callback.register("scalars")
class ScalarLogging(Callback):
    """Reading losses and weights waits for the device, so it happens only on logging steps."""

    def on_step_end(self, loop: Loop) -> None:
        if loop.state.steps_done % loop.settings.log_every:
            return
        logger, step, weighter = loop.run.logger, loop.state.global_step, loop.stage.weighter
        weights = weighter.weights()
        for index, task in enumerate(loop.stage.tasks):
            logger.scalar(f"train/loss/{task.name}", float(loop.losses[task.name]), step)
            logger.scalar(f"weights/{task.name}", float(weights[index]), step)
        logger.scalars(weighter.scalars(), step)
        body_lr, head_lr = (group["lr"] for group in loop.optimizer.param_groups)
        logger.scalars({"lr/body": body_lr, "lr/heads": head_lr}, step)
