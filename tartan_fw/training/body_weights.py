"""Handing a trained body to a later run: continued pretraining, then fine-tuning or TARTAN.

A run directory holds its body in one of two files: ``body.safetensors`` (written by the
``pretrain`` trainer, with the masked-LM head it trained) or ``best/model.safetensors`` (the
best end-task checkpoint of a ``tartan`` run). Tensors are stored under ``body.`` and
``lm_head.`` prefixes so one file can carry both.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from tartan_fw.errors import TartanError
from tartan_fw.common.files import atomic_save_tensors, load_tensors
from tartan_fw.run_directory import RunDirectory

logger = logging.getLogger(__name__)


def save_body(body: nn.Module, path: Path, lm_head: Optional[nn.Module] = None) -> None:
    """The body's weights and, when given, the masked-LM head trained with it."""
    tensors = {f"body.{k}": v for k, v in body.state_dict().items()}
    if lm_head is not None:
        tensors.update({f"lm_head.{k}": v for k, v in lm_head.state_dict().items()})
    atomic_save_tensors(tensors, path)


def body_weights_file(source: Path) -> Path:
    """The weights file of ``source``: the file itself, or the body a run directory saved."""
    if source.is_file():
        return source
    files = RunDirectory(source)
    candidates = (files.pretrained_body, files.best_model)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    names = " or ".join(str(c.relative_to(source)) for c in candidates)
    raise TartanError(
        f"init_from: {source} holds no body weights ({names}); point it at a "
        f"finished run directory or a .safetensors file"
    )


def load_body(body: nn.Module, source: Path) -> Path:
    """Copy the body saved under ``source`` into ``body`` (and its LM head, if saved); returns the file.

    Every parameter and buffer must be present with the same shape: the body config must be the
    one that produced the weights (same model, tokenizer corpora and sizes).
    """
    path = body_weights_file(source)
    tensors = load_tensors(path, "init_from: give a run directory or .safetensors file whose weights are intact (re-run the stage that wrote it)")
    saved = {k[len("body."):]: v for k, v in tensors.items() if k.startswith("body.")}
    state = body.state_dict()
    problems = [f"'{name}' is missing" for name in state if name not in saved]
    problems += [
        f"'{name}' has shape {tuple(saved[name].shape)} there but {tuple(value.shape)} here"
        for name, value in state.items() if name in saved and saved[name].shape != value.shape
    ]
    if problems:
        raise TartanError(
            f"init_from: {path} does not fit this body ({'; '.join(problems[:3])}); use the same body config "
            f"as the run that saved it"
        )
    with torch.no_grad():
        for name, value in state.items():
            value.copy_(saved[name])
    lm_head = {k[len("lm_head."):]: v for k, v in tensors.items() if k.startswith("lm_head.")}
    if lm_head and not body.load_lm_head_state(lm_head):
        logger.info("%s: the body has no masked-LM head to take the saved one; masked-LM tasks start fresh", path)
    return path
