"""The paper's vision experiment (Dery et al., 2022, appendix A.4): CIFAR-100 with one superclass as
the end-task and the other 95 classes as one auxiliary task, on a small CNN trained from scratch.

Importing the package registers the ``cifar_cnn`` body, the ``cifar100_superclass`` end-task and
the ``cifar100_other_classes`` aux task. Experiments: ``experiments/cifar100_{mt,meta}.jsonnet``.
"""

from .body import SmallCnnBody
from .other_classes import OtherClassesTask
from .superclass import SuperclassTask

__all__ = ["OtherClassesTask", "SmallCnnBody", "SuperclassTask"]
