from tartan_fw.models.heads.base import Head
from tartan_fw.models.heads.classification import ClassificationHead
from tartan_fw.models.heads.masked_lm import MaskedLMHead

__all__ = ["ClassificationHead", "Head", "MaskedLMHead"]
