from tartan_fw.training.callbacks.base import Callback, EvaluationResult, Loop, TrainerControl, TrainerState
from tartan_fw.training.callbacks.checkpointing import Checkpointing
from tartan_fw.training.callbacks.evaluation import Evaluation
from tartan_fw.training.callbacks.interruption import Interruption
from tartan_fw.training.callbacks.nonfinite import NonFiniteGuard
from tartan_fw.training.callbacks.progress import ProgressLines
from tartan_fw.training.callbacks.scalars import ScalarLogging

__all__ = [
    "Callback", "Checkpointing", "Evaluation", "EvaluationResult", "Interruption", "Loop", "NonFiniteGuard",
    "ProgressLines", "ScalarLogging", "TrainerControl", "TrainerState",
]
