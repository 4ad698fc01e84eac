"""Classification metrics: all three are always reported; the task's config names the headline one.

Beside them, what tells a real result from a trivial one: the score of always predicting the
training set's most frequent class, and a per-class report with the confusion matrix.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support


def classification_metrics(predicted: torch.Tensor, gold: torch.Tensor) -> dict[str, float]:
    y_pred, y_true = predicted.numpy(), gold.numpy()
    return {
        "micro_f1": float(f1_score(y_true, y_pred, average="micro")),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
    }


def majority_baseline(train_targets: torch.Tensor, gold: torch.Tensor, labels: list[str]) -> dict[str, Any]:
    """The metrics of always predicting the most frequent training label (what a model that learned nothing scores)."""
    majority = int(torch.bincount(train_targets, minlength=len(labels)).argmax())
    return {"label": labels[majority], **classification_metrics(torch.full_like(gold, majority), gold)}


def class_report(predicted: torch.Tensor, gold: torch.Tensor, labels: list[str]) -> dict[str, Any]:
    """Precision, recall, F1 and support per label, and the confusion matrix (rows gold, columns predicted)."""
    ids = list(range(len(labels)))
    precision, recall, f1, support = precision_recall_fscore_support(
        gold.numpy(), predicted.numpy(), labels=ids, zero_division=0
    )
    return {
        "per_class": {
            label: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                    "support": int(support[i])}
            for i, label in enumerate(labels)
        },
        "confusion_matrix": confusion_matrix(gold.numpy(), predicted.numpy(), labels=ids).tolist(),
        "predicted_labels": sorted({labels[i] for i in predicted.tolist()}),
    }


def trivial_result(metrics: dict[str, Any], split: str = "test") -> Optional[str]:
    """One line saying why the selected model's ``split`` result is trivial, or None when it is not."""
    metric, report = metrics["metric"], metrics.get(f"{split}_report")
    baseline = metrics.get("majority_baseline", {}).get(split)
    if report is None or baseline is None:
        return None
    predicted, score = report["predicted_labels"], metrics[split][metric]
    if len(predicted) == 1:
        why = f"the selected model (step {metrics['best_step']}) predicts '{predicted[0]}' for every {split} example"
    elif score <= baseline[metric]:
        why = (f"the selected model (step {metrics['best_step']}) scores {split} {metric} {score:.4f}, no better than "
               f"always predicting '{baseline['label']}' ({baseline[metric]:.4f})")
    else:
        return None
    return f"{why}: it learned nothing usable; train longer, raise the end-task's share or its learning rate"
