"""The paper-protocol comparison's table, rebuilt from the committed results (experiments/protocol/).

Reads ``results/protocol/<task>/<method>/seed<N>/`` (each a finished run's ``metrics.json`` and
``config.json``, and the ``dev_predictions.jsonl`` / ``test_predictions.jsonl`` written beside them:
one ``{"row", "label", "prediction"}`` line per example, no texts), and prints a Markdown table beside
the paper's Table 1: each method's test score (mean ± std over seeds) on the full test set and on the
test rows whose text is not in the training set, two-sided permutation p-values against the fine-tune
baseline and against TAPT (``tartan_fw.analysis.permutation``, the paper's test), the best dev score,
and the compute of a run (TFLOPs and wall-clock hours at one thread, from ``metrics.json``).

    python tools/protocol_results.py results/protocol/citation_intent --data-root ../shared/data
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from tartan_fw.analysis.permutation import permutation_test
from tartan_fw.data.check import normalise
from tartan_fw.training.metrics import classification_metrics

METHODS = {"finetune": "Fine-tune", "finetune_mt_lr": "Fine-tune at MT's lr (control)", "tapt": "TAPT",
           "mt": "MT-TARTAN", "meta": "META-TARTAN", "mt_dapt": "MT-TARTAN, DAPT only", "meta_dapt": "META-TARTAN, DAPT only"}
# Dery et al. (2022), roberta-base, test macro-F1 (ChemProt micro-F1), mean and std over seeds: Table 1
# (TAPT auxiliary, 10 seeds) and Table 4 (DAPT only at 10x the training set, 3 seeds).
PAPER = {
    "citation_intent": {"finetune": (66.03, 3.55), "tapt": (67.74, 3.68), "mt": (70.48, 4.42), "meta": (70.08, 4.70),
                        "mt_dapt": (69.27, 0.96), "meta_dapt": (71.19, 4.88)},
    "sciie": {"finetune": (77.96, 2.96), "tapt": (79.53, 1.93), "mt": (80.81, 0.74), "meta": (81.48, 0.82),
              "mt_dapt": (81.53, 0.99), "meta_dapt": (82.08, 1.19)},
    "chemprot": {"finetune": (82.10, 0.98), "tapt": (82.17, 0.65), "mt": (84.29, 0.63), "meta": (84.49, 0.50),
                 "mt_dapt": (80.26, 3.79), "meta_dapt": (82.31, 0.75)},
}
BASELINES = ("finetune", "tapt")


def unseen_rows(task_folder: Path, split: str) -> list[int]:
    """Rows of ``split`` whose text is not in the training set, texts compared as ``tartan-fw data check`` does."""
    seen = {normalise(json.loads(line)["text"]) for line in (task_folder / "train.jsonl").open() if line.strip()}
    rows = [json.loads(line) for line in (task_folder / f"{split}.jsonl").open() if line.strip()]
    return [index for index, row in enumerate(rows) if normalise(row["text"]) not in seen]


@dataclass
class Seed:
    test: float
    test_unseen: float
    dev: float
    tflops: float
    hours: float  # wall-clock, one thread a run


def score(predictions: Path, rows: list[int], metric: str) -> float:
    """``metric`` (in points) of the predictions in ``predictions`` on ``rows``, computed as training computes it."""
    keep = set(rows)
    lines = [line for line in map(json.loads, predictions.open()) if line["row"] in keep]
    index = {label: i for i, label in enumerate(sorted({str(l["label"]) for l in lines} | {str(l["prediction"]) for l in lines}))}
    gold = torch.tensor([index[str(line["label"])] for line in lines])
    predicted = torch.tensor([index[str(line["prediction"])] for line in lines])
    return 100 * classification_metrics(predicted, gold)[metric]


def read_seed(directory: Path, unseen: list[int]) -> Seed:
    metrics = json.loads((directory / "metrics.json").read_text())
    metric, compute = metrics["metric"], metrics.get("compute", {})
    predictions = directory / "test_predictions.jsonl"
    test_unseen = score(predictions, unseen, metric) if predictions.exists() else math.nan
    return Seed(100 * metrics["test"][metric], test_unseen, 100 * metrics["best_dev"][metric],
                compute.get("flops", math.nan) / 1e12, compute.get("wall_time_s", math.nan) / 3600)


def mean_std(values: list[float]) -> str:
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "-"
    spread = f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else ""
    return f"{statistics.fmean(values):.2f}{spread}"


def p_value(a: list[float], b: list[float]) -> str:
    a, b = [v for v in a if not math.isnan(v)], [v for v in b if not math.isnan(v)]
    if len(a) < 2 or len(b) < 2:
        return "-"
    return f"{permutation_test(a, b).p_value:.3f}"


def table(folder: Path, data_root: Path) -> str:
    task = folder.name
    unseen = unseen_rows(data_root / task, "test")
    total = sum(1 for line in (data_root / task / "test.jsonl").open() if line.strip())
    methods = {name: sorted((d for d in (folder / name).glob("seed*") if (d / "metrics.json").exists()),
                            key=lambda d: int(d.name[4:]))
               for name in METHODS if (folder / name).is_dir()}
    seeds = {name: [read_seed(d, unseen) for d in dirs] for name, dirs in methods.items() if dirs}
    paper = PAPER.get(task, {})
    header = ["method", "paper (roberta-base)", "seeds", "test", *[f"p vs {METHODS[b]}" for b in BASELINES],
              f"test unseen ({len(unseen)} of {total})", *[f"p vs {METHODS[b]}" for b in BASELINES],
              "best dev", "TFLOPs", "hours (1 thread)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, runs in seeds.items():
        def against(field: str) -> list[str]:
            return [p_value([getattr(r, field) for r in runs], [getattr(r, field) for r in seeds[b]])
                    if b in seeds and b != name else "-" for b in BASELINES]
        reported = paper.get(name)
        cells = [METHODS[name], f"{reported[0]:.2f} ± {reported[1]:.2f}" if reported else "-", str(len(runs)),
                 mean_std([r.test for r in runs]), *against("test"),
                 mean_std([r.test_unseen for r in runs]), *against("test_unseen"),
                 mean_std([r.dev for r in runs]), mean_std([r.tflops for r in runs]), mean_std([r.hours for r in runs])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="results/protocol/<task>")
    parser.add_argument("--data-root", type=Path, required=True, help="the data root holding <task>/train.jsonl")
    args = parser.parse_args()
    if not (args.data_root / args.folder.name / "train.jsonl").exists():
        sys.exit(f"{args.data_root / args.folder.name / 'train.jsonl'}: not found; --data-root must hold the task's data")
    print(table(args.folder, args.data_root))


if __name__ == "__main__":
    main()
