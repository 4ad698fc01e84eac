"""The shared encoder body: every task's head reads its hidden states."""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Optional

import torch
from torch import nn

from tartan_fw.common.registrable import Registrable
from tartan_fw.errors import ConfigurationError

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


class Body(Registrable, nn.Module):
    """The shared encoder every task's head reads: inputs to hidden states ``(batch, positions, hidden_size)``.

    What every body offers is small: ``hidden_size`` for the heads, ``forward`` for the tasks
    (whose ``encode`` decides what to pass), the data files it reads (:meth:`data_files`, none
    here) and an optional masked-LM head that bodies from a masked-LM checkpoint lend to masked-LM
    tasks (none here). Nothing in it is Hugging Face's: text bodies derive from :class:`TextBody`;
    a body of other inputs (the CIFAR plugin's CNN) derives from this class and calls its
    ``__init__``. The data root is injected into the constructor (``data_root``), for bodies that
    read data.
    """

    family: ClassVar[str] = "body"
    injected_parameters: ClassVar[tuple[str, ...]] = ("data_root",)
    # Whether the weights come from training (a checkpoint) rather than random initialisation. Only
    # a pretrained body has representations an untrained masked-LM head can be fitted to before it
    # steers the body (training/head_warmup.py); on a random body the heads learn along with it.
    pretrained: ClassVar[bool] = False

    def __init__(self) -> None:
        nn.Module.__init__(self)

    @classmethod
    def data_files(cls, arguments: Mapping[str, Any]) -> list[str]:
        """The files the body built from ``arguments`` (``Lazy.arguments()``) reads, relative to the data
        root, so ``validate`` can check them before anything is built."""
        return []

    @property
    def hidden_size(self) -> int:
        raise NotImplementedError

    def lm_head(self) -> Optional[nn.Module]:
        """A fresh copy of the body's pretrained masked-LM head, if it has one."""
        return None

    def load_lm_head_state(self, state: dict[str, torch.Tensor]) -> bool:
        """Keep a continued-pretraining stage's trained LM head, so the next stage's masked-LM tasks
        start from it; False when the body has no LM head to hold it."""
        return False


class TextBody(Body):
    """A Hugging Face encoder with its tokenizer, and the masked-LM head its checkpoint carries.

    Subclasses decide where the encoder comes from (a checkpoint, or random initialisation) and
    call :meth:`_adopt` with a masked-LM model; the body keeps the encoder and lends copies of the
    LM head to masked-LM tasks. Text tasks need one (:func:`text_body`).
    """

    encoder: "PreTrainedModel"
    tokenizer: "PreTrainedTokenizerBase"

    def __init__(self, max_length: int) -> None:
        super().__init__()
        self.max_length = max_length
        self._lm_head: list[nn.Module] = []  # a list keeps it out of the body's parameters
        self.lm_head_is_pretrained = False

    def _adopt(self, masked_lm: "PreTrainedModel", tokenizer: "PreTrainedTokenizerBase", head_pretrained: bool) -> None:
        self.encoder = masked_lm.base_model
        self.tokenizer = tokenizer
        others = [] if masked_lm is self.encoder else [m for m in masked_lm.children() if m is not self.encoder]
        self._lm_head = others if len(others) == 1 else []
        self.lm_head_is_pretrained = head_pretrained and bool(self._lm_head)

    @property
    def hidden_size(self) -> int:
        return self.encoder.config.hidden_size

    @property
    def vocab_size(self) -> int:
        return self.encoder.config.vocab_size

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    def lm_head(self) -> Optional[nn.Module]:
        """A fresh copy of the checkpoint's LM head, its decoder still tied to the input embeddings."""
        if not self._lm_head:
            return None
        embeddings = self.encoder.get_input_embeddings().weight
        return copy.deepcopy(self._lm_head[0], memo={id(embeddings): embeddings})

    def load_lm_head_state(self, state: dict[str, torch.Tensor]) -> bool:
        if not self._lm_head:
            return False
        self._lm_head[0].load_state_dict(state)
        return True

    def fingerprint(self) -> str:
        """Identifies the tokenizer, for the tokenisation cache: its serialised state without the
        truncation and padding settings, which every call with ``truncation=True`` rewrites."""
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        if backend is None:
            return f"{self.tokenizer.name_or_path}:{len(self.tokenizer)}"
        state = json.loads(backend.to_str())
        state.pop("truncation", None)
        state.pop("padding", None)
        return json.dumps(state, sort_keys=True)


def text_body(body: Body, where: str) -> TextBody:
    """``body`` as a text body, or a configuration error at ``where`` (a task that reads text)."""
    if not isinstance(body, TextBody):
        raise ConfigurationError([
            f"{where}: the task reads text and needs a text body with a tokenizer (huggingface, scratch); "
            f"body '{Body.registered_name(type(body)) or type(body).__name__}' has none"
        ])
    return body
