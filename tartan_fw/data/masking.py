"""BERT's masked-LM corruption: 15% of real tokens, of which 80% [MASK], 10% random, 10% kept."""

from __future__ import annotations

import torch


def mask_tokens(
    input_ids: torch.Tensor,
    maskable: torch.Tensor,
    mask_id: int,
    vocab_size: int,
    probability: float,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Corrupted ids and labels (-100 where nothing is predicted).

    ``maskable`` is False at special and padding tokens, which are never chosen.
    """
    chosen = (torch.rand(input_ids.shape, generator=generator) < probability) & maskable
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))
    draw = torch.rand(input_ids.shape, generator=generator)
    corrupted = input_ids.clone()
    corrupted[chosen & (draw < 0.8)] = mask_id
    randomised = chosen & (draw >= 0.8) & (draw < 0.9)
    corrupted[randomised] = torch.randint(vocab_size, input_ids.shape, generator=generator)[randomised]
    return corrupted, labels
