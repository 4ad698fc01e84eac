"""Classification metrics: all three are always reported; the task's config names the headline one."""

from __future__ import annotations

import torch
from sklearn.metrics import accuracy_score, f1_score


def classification_metrics(predicted: torch.Tensor, gold: torch.Tensor) -> dict[str, float]:
    y_pred, y_true = predicted.numpy(), gold.numpy()
    return {
        "micro_f1": float(f1_score(y_true, y_pred, average="micro")),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
    }
