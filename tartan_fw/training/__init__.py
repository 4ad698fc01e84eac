"""The training loop and its trainers; importing the package registers both trainers and the callbacks."""

from tartan_fw.training.pretrain import PretrainTrainer
from tartan_fw.training.trainer import Run, StageLoop, TartanTrainer, Trainer

__all__ = ["PretrainTrainer", "Run", "StageLoop", "TartanTrainer", "Trainer"]
