from tartan_fw.tasks.base import AuxTask, EndTask, Task, TaskLoss
from tartan_fw.tasks.classification import ClassificationTask
from tartan_fw.tasks.corpus import CorpusTask
from tartan_fw.tasks.masked_lm import MaskedLMTask
from tartan_fw.tasks.nsp import NextSentenceTask
from tartan_fw.tasks.random_labels import RandomLabelsTask

__all__ = [
    "AuxTask", "ClassificationTask", "CorpusTask", "EndTask", "MaskedLMTask", "NextSentenceTask", "RandomLabelsTask",
    "Task", "TaskLoss",
]
