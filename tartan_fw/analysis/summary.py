"""The final summary of a run: the headline scores (and, where dev or test rows' text is in train, the
scores on the other rows), the majority-class baseline beside them, and the test set's per-class report
and confusion matrix, as plain lines (readable in a batch log)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def summary_lines(directory: Path, metrics: dict[str, Any]) -> list[str]:
    metric = metrics["metric"]
    dev, test = metrics["best_dev"].get(metric, float("nan")), metrics["test"].get(metric, float("nan"))
    lines = [f"{directory}: dev {metric} {dev:.4f} (step {metrics['best_step']}), test {metric} {test:.4f}"]
    lines += _unseen_lines(metrics)
    baseline = metrics.get("majority_baseline")
    if baseline:
        lines.append(f"majority-class baseline (always '{baseline['test']['label']}'): dev {metric} "
                     f"{baseline['dev'][metric]:.4f}, test {metric} {baseline['test'][metric]:.4f}")
    report = metrics.get("test_report")
    if report:
        lines += _report_lines(report)
    return lines


def _unseen_lines(metrics: dict[str, Any]) -> list[str]:
    """The scores on the rows whose text is not in train, when some dev or test rows' text is in train."""
    overlap, metric = metrics.get("train_overlap", {}), metrics["metric"]
    if not any(counts["in_train"] for counts in overlap.values()):
        return []
    parts = [f"{split} {metric} {metrics[f'{split}_unseen'][metric]:.4f} ({counts['unseen']} of {counts['rows']} rows)"
             if metrics.get(f"{split}_unseen") else f"{split}: no such rows" for split, counts in overlap.items()]
    return [f"on the rows whose text is not in train: {', '.join(parts)}"]


def _report_lines(report: dict[str, Any]) -> list[str]:
    """Per-class precision/recall/F1/support, then the confusion matrix's row for that gold label."""
    labels = list(report["per_class"])
    corner = "gold \\ predicted"
    width = max(len(corner), *(len(label) for label in labels))
    columns = [f"p{i}" for i in range(len(labels))]
    lines = [f"test per class ({', '.join(f'p{i} = {label}' for i, label in enumerate(labels))}):",
             f"{corner:<{width}}  precision  recall      f1  support  " + " ".join(f"{c:>5}" for c in columns)]
    for label, row in zip(labels, report["confusion_matrix"]):
        scores = report["per_class"][label]
        lines.append(f"{label:<{width}}  {scores['precision']:9.3f}  {scores['recall']:6.3f}  {scores['f1']:6.3f}  "
                     f"{scores['support']:7d}  " + " ".join(f"{count:5d}" for count in row))
    return lines
