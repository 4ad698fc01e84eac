"""Benchmark the training step: fine-tune, masked-LM, MT-TARTAN, META-TARTAN and the baseline weighters.

Every measurement drives the real ``StageLoop.step`` of an experiment built from a config (a
from-scratch BERT, synthetic text, the real tasks and weighters), each configuration in a fresh
subprocess so that peak-memory figures do not mix. Synthetic data: random pseudo-words, every text
longer than ``--seq-len`` tokens, so every sequence is exactly ``--seq-len`` long.

Two references run beside them on the same shapes and batches: ``finetune_vs_hf``, the plain
Hugging Face loop (``BertForSequenceClassification``, AdamW, clipping), against which the
fine-tune step should be no slower; and ``released_meta_k*``, META-TARTAN computed the way the
authors' released code (ldery/TARTAN) does it: phi* fitted with a full body forward on each of
its steps, one autograd call per task returning per-parameter gradients, and cosines and the
update summed parameter by parameter. ``meta_dev_passes`` times META's unavoidable extra work alone
(a forward without gradients of phi*'s fitting rows, a forward and backward of the scored rows),
so the report shows META/MT's floor and the weighter's overhead above it.

The goals' ratios are also taken in pairs (``finetune_vs_hf``; ``meta_vs_mt_k1``, ``meta_vs_mt_k2``
outside ``--quick``): the two steps in turn in one process, both warmed up, on batches of the same
shape, and the report gives the ratio's mean and standard error over the pairs. Timed in separate
processes, the fine-tune / plain-loop ratio moved from 0.73x to 1.19x between runs on the busy
development machine, more than the gap it measures; a pair shares the process, its allocator and
the machine's load of the moment.

Time: median over ``--steps`` steps after ``--warmup`` steps (CUDA is synchronised around each);
``--steps`` pairs for the paired comparisons.
Memory: on CUDA ``torch.cuda.max_memory_allocated`` over the steps; on CPU the process's peak
resident set (``VmHWM`` in /proc/self/status, reset by writing 5 to /proc/self/clear_refs just
before the first step), reported with its growth over the resident set before the first step
(optimizer state, activations, gradient buffers). tracemalloc would not see torch's allocations.

    python tools/bench.py                          # small BERT on CPU (a few minutes on 2 cores)
    python tools/bench.py --model roberta-base --device cuda --json bench.json
    python tools/bench.py --baselines-only         # MT, GCS, PCGrad, uncertainty at K = 1, 2, 4
    python tools/bench.py --paired-only --steps 10 # only the paired ratios of the goals
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Optional

import torch

from tartan_fw.data.batching import to_device
from tartan_fw.models.heads.masked_lm import MaskedLMHead
from tartan_fw.training.precision import autocast, resolve_precision
from tartan_fw.weighters import MetaWeighter

MODELS = {
    "small": {"hidden_size": 256, "num_layers": 4, "num_heads": 4, "intermediate_size": 1024, "vocab_size": 8000,
              "seq_len": 128},
    # all-MiniLM-L6-v2's shape (the quickstart's encoder) at the quickstart's 64 tokens
    "minilm": {"hidden_size": 384, "num_layers": 6, "num_heads": 12, "intermediate_size": 1536, "vocab_size": 30522,
               "seq_len": 64},
    "roberta-base": {"hidden_size": 768, "num_layers": 12, "num_heads": 12, "intermediate_size": 3072,
                     "vocab_size": 50265, "seq_len": 256},
}
NUM_LABELS = 4
CLOCK_NAMES = {"step_s": "wall", "cpu_s": "cpu"}


@dataclass
class Case:
    """One measured configuration: which tasks the step runs and how they are weighted."""

    name: str
    tasks: str  # "end", "mlm", "end+mlm"; or two steps in turn in one process, "finetune-vs-hf" or "meta-vs-mt"
    aux: int = 1
    weighter: str = "uniform"
    released: bool = False  # META-TARTAN in the released code's compute pattern
    dev_passes: bool = False  # only META-TARTAN's unavoidable extra passes over dev rows
    mask_probability: float = 0.15
    all_positions: bool = False
    precision: str = ""  # the trainer's precision; "": --precision
    bf16_vs_fp32: bool = False  # this configuration's step in bf16 and in fp32 in turn, in one process


# ---------------------------------------------------------------- synthetic data


def write_data(root: Path, vocab_size: int, seq_len: int, lines: int = 256) -> None:
    """Texts of random pseudo-words, each longer than ``seq_len`` tokens, and corpora to train on."""
    rng = random.Random(0)
    words = [f"w{i}" for i in range(vocab_size)]
    folder = root / "bench"
    folder.mkdir(parents=True, exist_ok=True)

    def text() -> str:
        return " ".join(rng.choice(words) for _ in range(seq_len + 8))

    for split, size in (("train", lines), ("dev", lines // 2), ("test", 8)):
        with (folder / f"{split}.jsonl").open("w") as out:
            for i in range(size):
                out.write(json.dumps({"text": text(), "label": f"l{i % NUM_LABELS}"}) + "\n")
    # Every pseudo-word several times, so the tokenizer's vocabulary fills up with whole words.
    vocabulary = [" ".join(words[i : i + 64]) for i in range(0, len(words), 64)]
    (folder / "corpus.txt").write_text("\n".join([text() for _ in range(lines)] + vocabulary * 3) + "\n")


# ---------------------------------------------------------------- one configuration (subprocess)


def experiment_config(args: argparse.Namespace, case: Case, data_root: Path) -> dict[str, Any]:
    shape = MODELS[args.model]
    aux = [
        {"type": "mlm", "name": f"mlm{i + 1}", "corpus": "bench/corpus.txt", "batch_size": args.batch_size,
         "mask_probability": case.mask_probability}
        for i in range(case.aux)
    ]
    weighter: dict[str, Any] = {"type": case.weighter}
    if case.weighter == "meta":
        sizes = {"dev_batch_size": args.dev_batch_size, "meta_batch_size": args.meta_batch_size}
        weighter.update({key: value for key, value in sizes.items() if value})
    return {
        "data_root": str(data_root),
        "seed": 0,
        "body": {"type": "scratch", "tokenizer_corpora": ["bench/corpus.txt"], "vocab_size": shape["vocab_size"],
                 "hidden_size": shape["hidden_size"], "num_layers": shape["num_layers"],
                 "num_heads": shape["num_heads"], "intermediate_size": shape["intermediate_size"],
                 "max_length": args.seq_len},
        "end_task": {"type": "classification", "dataset": "bench", "batch_size": args.batch_size},
        "aux_tasks": aux,
        "weighter": weighter,
        "trainer": {"type": "tartan", "max_steps": 1_000_000, "precision": case.precision or args.precision},
    }


def build_loop(args: argparse.Namespace, case: Case, data_root: Path, device: torch.device) -> Any:
    """The stage loop of ``case``'s experiment, training the tasks the case names."""
    from tartan_fw.runner import training_loop
    from tartan_fw.training.head_warmup import first_training_stage
    from tartan_fw.training.stage import Stage

    def bench_stage(run: Any, stages: list[Stage]) -> Stage:
        if case.all_positions:
            for task in run.aux_tasks:
                task.head = AllPositionsMaskedLMHead(run.body).to(device)
        tasks = {"end": [run.end_task], "mlm": run.aux_tasks, "end+mlm": [run.end_task, *run.aux_tasks]}[case.tasks]
        return replace(first_training_stage(stages), name="bench", tasks=tasks)

    return training_loop(experiment_config(args, case, data_root), data_root, device, bench_stage)


def case_step(loop: Any, case: Case) -> Any:
    """What ``case`` times on ``loop``: the trainer's step, the released code's META step or META's dev passes."""
    return ReleasedMetaStep(loop) if case.released else MetaDevPasses(loop) if case.dev_passes else loop.step


def measure(args: argparse.Namespace, case: Case, data_root: Path) -> dict[str, Any]:
    """Build the experiment of ``case`` and time its step; runs inside the subprocess."""
    device = torch.device(args.device)
    if case.tasks in ("finetune-vs-hf", "meta-vs-mt") or case.bf16_vs_fp32:
        return measure_pairs(args, paired_steps(args, case, data_root, device), device)
    loop = build_loop(args, case, data_root, device)
    body, aux_tasks, tasks = loop.run.body, loop.run.aux_tasks, loop.tasks
    result = measure_steps(args, case_step(loop, case), device)
    tokens = sum(loop.state.tokens.values()) / (args.warmup + args.steps)
    masked = sum(int(t.next_batch()["num_targets"]) for t in tasks if t in aux_tasks)
    result.update(tokens_per_s=tokens / result["step_s"], tokens_per_step=tokens, masked_per_step=masked,
                  model_tflops_per_s=model_flops(body, [t for t in tasks if t in aux_tasks], tokens, masked)
                  / result["step_s"] / 1e12)
    return result


def timed(step: Any, n: int, device: torch.device) -> tuple[float, float]:
    """Wall and CPU seconds of ``step(n)``, the device synchronised before and after."""
    synchronize(device)
    started, cpu_started = time.perf_counter(), time.process_time()
    step(n)
    synchronize(device)
    return time.perf_counter() - started, time.process_time() - cpu_started


def measure_steps(args: argparse.Namespace, step: Any, device: torch.device) -> dict[str, Any]:
    """Median wall and CPU time of ``step(n)`` after warm-up, and peak memory over the steps."""
    memory = MemoryProbe(device)
    times, cpu_times = zip(*(timed(step, n, device) for n in range(1, args.warmup + args.steps + 1)))
    return {"step_s": statistics.median(times[args.warmup :]), "cpu_s": statistics.median(cpu_times[args.warmup :]),
            "times_s": list(times), **memory.read()}


def paired_steps(args: argparse.Namespace, case: Case, data_root: Path, device: torch.device) -> dict[str, Any]:
    """The two steps a paired case compares, the ratio's numerator first: the fine-tune step and the plain Hugging
    Face loop, META-TARTAN's step and MT-TARTAN's at K = ``case.aux``, or one configuration's step in bf16 and
    in fp32 (one config each, so the same batches)."""
    if case.bf16_vs_fp32:
        return {precision: build_loop(args, replace(case, precision=precision, bf16_vs_fp32=False), data_root,
                                      device).step for precision in ("bf16", "fp32")}
    if case.tasks == "meta-vs-mt":
        return {name: build_loop(args, Case(name, "end+mlm", aux=case.aux, weighter=weighter), data_root, device).step
                for name, weighter in (("meta", "meta"), ("mt", "uniform"))}
    loop = build_loop(args, Case("finetune", "end", aux=0), data_root, device)
    return {"finetune": loop.step, "hf": hugging_face_step(args, device, first_batch(loop.run.end_task, args))}


def measure_pairs(args: argparse.Namespace, steps: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """Two steps in turn in one process, ``--steps`` pairs after ``--warmup`` steps of each, and each pair's ratio
    (first step / second) by wall and CPU time.

    The pair's order alternates (A B, B A, A B, ...): neither step always meets the allocator and caches
    the other left behind.
    """
    names = list(steps)
    for n in range(1, args.warmup + 1):
        for step in steps.values():
            step(n)
    clocks: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for pair in range(args.steps):
        for name in names if pair % 2 == 0 else names[::-1]:
            clocks[name].append(timed(steps[name], args.warmup + 1 + pair, device))
    result: dict[str, Any] = {"pairs": args.steps, "steps": names}
    for index, clock in enumerate(CLOCK_NAMES.values()):  # timed's order: wall, CPU
        ratios = [a[index] / b[index] for a, b in zip(*clocks.values())]
        error = statistics.stdev(ratios) / len(ratios) ** 0.5 if len(ratios) > 1 else float("nan")
        result[clock] = {"ratios": ratios, "mean": statistics.mean(ratios), "se": error,
                         **{f"{name}_s": [c[index] for c in clocks[name]] for name in names}}
    return result


def first_batch(end_task: Any, args: argparse.Namespace) -> dict[str, torch.Tensor]:
    """The end-task's first ``--batch-size`` training rows: the plain loop's batch, of the fine-tune step's data."""
    return end_task.collate(torch.arange(args.batch_size))


def hugging_face_step(args: argparse.Namespace, device: torch.device, batch: dict[str, torch.Tensor]) -> Any:
    """The plain Hugging Face loop of the fine-tune row's shape on ``batch``, every step: forward, backward,
    clip, AdamW."""
    from transformers import BertConfig, BertForSequenceClassification

    shape = MODELS[args.model]
    config = BertConfig(vocab_size=shape["vocab_size"], hidden_size=shape["hidden_size"],
                        num_hidden_layers=shape["num_layers"], num_attention_heads=shape["num_heads"],
                        intermediate_size=shape["intermediate_size"], num_labels=NUM_LABELS,
                        max_position_embeddings=max(512, args.seq_len))
    torch.manual_seed(0)
    model = BertForSequenceClassification(config).to(device).train()
    fused = {"fused": True} if device.type == "cuda" else {}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01, **fused)
    inputs, mask, labels = (batch[key].to(device) for key in ("input_ids", "attention_mask", "labels"))
    precision = resolve_precision(args.precision, device)  # as the Run computes

    def step(_: int) -> None:
        with autocast(device, precision):
            loss = model(input_ids=inputs, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()

    return step


class ReleasedMetaStep:
    """One META-TARTAN step as the released code (ldery/TARTAN ``endtask_aware.py``) computes it.

    Same tasks, batches, weighter settings and optimiser as the real step; what differs is the
    compute pattern: each task's gradients come back from ``torch.autograd.grad`` as one tensor per
    parameter and are added into ``.grad`` parameter by parameter; phi* is fitted by running the
    body forward on every fitting step; cosines are sums of per-parameter dot products.
    """

    def __init__(self, loop: Any) -> None:
        self.loop = loop
        self.weighter = loop.weighter
        self.body_parameters = list(loop.flat.parameters)

    def __call__(self, step: int) -> None:
        loop, weighter = self.loop, self.weighter
        weighter.step = step
        end_task = loop.run.end_task
        weights = torch.softmax(weighter.logits, 0)
        loop.flat.grad.zero_()
        for task in loop.tasks:
            for p in task.head.parameters():
                p.grad = None
        task_grads = []
        for index, task in enumerate(loop.tasks):
            batch = to_device(task.next_batch(), loop.run.device)
            loop.state.tokens[task.name] = loop.state.tokens.get(task.name, 0) + int(batch["attention_mask"].sum())
            with loop.run.autocast():
                output = task.loss(loop.model, batch)
            loss = output.total / batch["num_targets"].clamp(min=1)
            head = list(task.head.parameters())
            grads = torch.autograd.grad(loss, self.body_parameters + head, allow_unused=True)
            body_weight = float(weights[index])  # heads update from their own unweighted gradients
            for position, (p, g) in enumerate(zip(self.body_parameters + head, grads)):
                if g is not None:
                    scale = body_weight if position < len(self.body_parameters) else 1.0
                    p.grad = g * scale if p.grad is None else p.grad.add_(g, alpha=scale)
            task_grads.append(grads[: len(self.body_parameters)])
        meta_grads = self.meta_gradient(end_task)
        meta_norm = torch.sqrt(sum((g * g).sum() for g in meta_grads if g is not None))
        for index, grads in enumerate(task_grads):
            dot = sum((m * g).sum() for m, g in zip(meta_grads, grads) if m is not None and g is not None)
            norm = torch.sqrt(sum((g * g).sum() for g in grads if g is not None))
            weighter.logits[index] += weighter.weight_lr * dot / (norm * meta_norm)
        torch.nn.utils.clip_grad_norm_(loop.all_parameters, loop.settings.max_grad_norm)
        loop.optimizer.step()

    def meta_gradient(self, end_task: Any) -> tuple[torch.Tensor, ...]:
        weighter = self.weighter
        fit_rows, scored_rows = weighter.rows()
        head = end_task.build_head(self.loop.run.body)
        head = head.to(self.loop.run.device)
        optimizer = torch.optim.AdamW(head.parameters(), lr=weighter.meta_head_lr,
                                      weight_decay=weighter.meta_head_weight_decay, betas=(0.9, 0.98))
        fit = to_device(end_task.collate(fit_rows, "dev"), self.loop.run.device)
        previous = float("inf")
        for _ in range(weighter.meta_head_steps):
            with self.loop.run.autocast():
                logits = head(head.features(end_task.encode(self.loop.model, fit)))
            loss = torch.nn.functional.cross_entropy(logits.float(), fit["labels"])
            grads = torch.autograd.grad(loss, list(head.parameters()))
            for p, g in zip(head.parameters(), grads):
                p.grad = g
            optimizer.step()
            if abs(loss.item() - previous) < weighter.meta_head_tolerance:
                break
            previous = loss.item()
        scored = to_device(end_task.collate(scored_rows, "dev"), self.loop.run.device)
        with self.loop.run.autocast():
            logits = head(head.features(end_task.encode(self.loop.model, scored)))
        loss = torch.nn.functional.cross_entropy(logits.float(), scored["labels"])
        return torch.autograd.grad(loss, self.body_parameters, allow_unused=True)


class MetaDevPasses:
    """META-TARTAN's unavoidable extra work alone, on the rows the weighter draws: a forward without gradients
    of phi*'s fitting rows and a forward and backward of the scored rows to the body's parameters.

    META's step minus MT's, beyond this, is the weighter's own overhead (fitting, collation, cosines).
    """

    def __init__(self, loop: Any) -> None:
        self.loop, self.weighter = loop, loop.weighter

    def __call__(self, step: int) -> None:
        run, end_task, head = self.loop.run, self.loop.run.end_task, self.loop.run.end_task.head
        self.weighter.step = step
        fit_rows, scored_rows = self.weighter.rows()
        with torch.no_grad(), run.autocast():
            head.features(end_task.encode(run.body, to_device(end_task.collate(fit_rows, "dev"), run.device)))
        scored = to_device(end_task.collate(scored_rows, "dev"), run.device)
        with run.autocast():
            logits = head(head.features(end_task.encode(run.body, scored)))
        loss = torch.nn.functional.cross_entropy(logits.float(), scored["labels"])
        torch.autograd.grad(loss, self.loop.flat.parameters)


def model_flops(body: torch.nn.Module, mlm_tasks: list[Any], tokens: float, masked: int) -> float:
    """Training FLOPs of one step by the run's own estimate (6 x parameters x tokens, see training/compute.py);
    META's extra dev passes are not counted, so its MFU reads as the useful share."""
    from tartan_fw.training.compute import lm_projection_parameters, non_embedding_parameters

    lm = lm_projection_parameters(mlm_tasks[0].head) if mlm_tasks else 0
    return 6.0 * non_embedding_parameters(body) * tokens + 6.0 * lm * masked


# Dense bf16 tensor-core peaks (NVIDIA datasheets, TFLOP/s), most specific name first.
PEAK_TFLOPS = {"H100 PCIe": 756.0, "H100": 989.0, "H200": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0}


def peak_tflops(args: argparse.Namespace) -> Optional[float]:
    """``--peak-tflops``, or the datasheet peak of a known GPU; None on CPUs (no MFU column then)."""
    if args.peak_tflops or args.device != "cuda":
        return args.peak_tflops
    name = torch.cuda.get_device_name()
    return next((peak for key, peak in PEAK_TFLOPS.items() if key in name), None)


class AllPositionsMaskedLMHead(MaskedLMHead):
    """The naive masked-LM head: the vocabulary projection at every position, then the loss at
    the masked ones. Only for comparison with :class:`MaskedLMHead`, which projects masked positions alone."""

    def forward(self, hidden: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        logits = self.predictions(hidden)
        return torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), reduction="sum")


class MemoryProbe:
    """Peak memory from now on: CUDA allocator statistics, or the process's peak resident set on CPU."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        if self.cuda:
            synchronize(device)
            self.before = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
        else:
            self.before = _status_kb("VmRSS") * 1024
            Path("/proc/self/clear_refs").write_text("5")

    def read(self) -> dict[str, float]:
        peak = torch.cuda.max_memory_allocated() if self.cuda else _status_kb("VmHWM") * 1024
        return {"peak_mb": peak / 2**20, "peak_growth_mb": (peak - self.before) / 2**20}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {key}; CPU memory needs Linux")


# ---------------------------------------------------------------- orchestration


BASELINES = ("gcs", "pcgrad", "uncertainty")


def baseline_cases() -> list[Case]:
    """GCS, PCGrad and uncertainty weighting at K = 1, 2, 4 auxiliary tasks, to set beside MT's rows."""
    return [Case(f"{weighter}_k{k}", "end+mlm", aux=k, weighter=weighter) for weighter in BASELINES for k in (1, 2, 4)]


def baseline_report(results: dict[str, dict[str, Any]], clocks: list[str], summary: dict[str, Any]) -> None:
    """Each baseline's step time relative to MT-TARTAN's at the same K, and its peak memory growth."""
    print("\nbaseline weighters, step time / MT's at the same K, and peak memory growth over setup:")
    for weighter in BASELINES:
        rows = {}
        for k in (1, 2, 4):
            row, mt = results[f"{weighter}_k{k}"], results[f"mt_k{k}"]
            rows[k] = {**{f"{CLOCK_NAMES[c]}_ratio": row[c] / mt[c] for c in clocks}, "peak_growth_mb": round(row["peak_growth_mb"])}
        summary[f"{weighter}_vs_mt"] = rows
        print(f"  {weighter:<12}" + "; ".join(
            f"K={k} " + ", ".join(f"{CLOCK_NAMES[c]} {r[f'{CLOCK_NAMES[c]}_ratio']:.2f}" for c in clocks)
            + f", {r['peak_growth_mb']} MB" for k, r in rows.items()))


def precision_cases() -> list[Case]:
    """Fine-tune, MT and META at K = 1, 2, each step in bf16 against fp32."""
    chosen = [Case("finetune", "end", aux=0)]
    chosen += [Case(f"{name}_k{k}", "end+mlm", aux=k, weighter=weighter)
               for name, weighter in (("mt", "uniform"), ("meta", "meta")) for k in (1, 2)]
    return [replace(case, name=f"bf16_vs_fp32_{case.name}", bf16_vs_fp32=True) for case in chosen]


def precision_report(results: dict[str, dict[str, Any]], summary: dict[str, Any]) -> None:
    """Each configuration's bf16 / fp32 step-time ratio (mean ± s.e. over the pairs) and its medians."""
    print("\nbf16 / fp32 step time, mean ± s.e. over pairs in one process (median ms bf16 / fp32):")
    for name, paired in results.items():
        summary[name] = {c: {"mean": paired[c]["mean"], "se": paired[c]["se"]} for c in CLOCK_NAMES.values()}
        print(f"  {name.removeprefix('bf16_vs_fp32_'):<10}" + "; ".join(
            f"{c} {paired[c]['mean']:.3f} ± {paired[c]['se']:.3f} ("
            + " / ".join(f"{statistics.median(paired[c][f'{p}_s']) * 1e3:.0f}" for p in ("bf16", "fp32")) + ")"
            for c in CLOCK_NAMES.values()))


def cases(args: argparse.Namespace) -> list[Case]:
    if args.precision_pairs:
        return precision_cases()
    if args.baselines_only:
        return [Case(f"mt_k{k}", "end+mlm", aux=k) for k in (1, 2, 4)] + baseline_cases()
    pairs = [Case("finetune_vs_hf", "finetune-vs-hf", aux=0)]
    pairs += [Case(f"meta_vs_mt_k{k}", "meta-vs-mt", aux=k) for k in (1, 2)]  # the K with META/MT goals
    if args.paired_only:
        return pairs
    chosen = [pairs[0], Case("finetune", "end", aux=0), Case("mlm", "mlm")]
    for k in (1, 2) if args.quick else (1, 2, 4):
        chosen += [Case(f"mt_k{k}", "end+mlm", aux=k), Case(f"meta_k{k}", "end+mlm", aux=k, weighter="meta"),
                   Case(f"released_meta_k{k}", "end+mlm", aux=k, weighter="meta", released=True)]
    chosen.append(Case("meta_dev_passes", "end", aux=0, weighter="meta", dev_passes=True))
    if not args.quick:
        for p in args.mask_probabilities:
            if p != 0.15:
                chosen.append(Case(f"mlm_p{p}", "mlm", mask_probability=p))
            chosen.append(Case(f"mlm_all_p{p}", "mlm", mask_probability=p, all_positions=True))
        chosen += pairs[1:] + baseline_cases()
    return chosen


def run_case(args: argparse.Namespace, case: Case, data_root: Path, cache: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", json.dumps(asdict(case)), "--data-root", str(data_root),
               *args.forwarded]
    environment = {**os.environ, "TARTAN_CACHE": str(cache)}
    done = subprocess.run(command, capture_output=True, text=True, env=environment)
    if done.returncode != 0:
        raise SystemExit(f"{case.name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


PAIRED_GOALS = (("finetune_vs_hf", "finetune / hf_finetune", 1.0), ("meta_vs_mt_k1", "META / MT, K=1", 1.5),
                ("meta_vs_mt_k2", "META / MT, K=2", 1.35))


def report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Print the table and the ratios; on CPU every ratio is given by wall time and by CPU time."""
    clocks = ["step_s"] if args.device == "cuda" else ["step_s", "cpu_s"]
    defaults = inspect.signature(MetaWeighter).parameters
    dev_batch = args.dev_batch_size or defaults["dev_batch_size"].default
    meta_batch = args.meta_batch_size or defaults["meta_batch_size"].default
    shape = MODELS[args.model]
    print(f"\nmodel {args.model} ({shape['hidden_size']} hidden, {shape['num_layers']} layers, vocab "
          f"{shape['vocab_size']}), seq {args.seq_len}, batch {args.batch_size} per task, device {args.device}, "
          f"threads {args.threads or 'default'}, median of {args.steps} steps after {args.warmup} warmup; "
          f"META: phi* fitted on {meta_batch} dev examples, meta-gradient on {dev_batch} others")
    peak = peak_tflops(args)
    rows = {name: r for name, r in results.items() if "pairs" not in r}  # paired comparisons have their own lines
    if rows:
        print(f"\n{'configuration':<16}{'wall ms':>10}{'cpu ms':>10}{'tokens/s':>10}{'masked':>8}{'peak MB':>9}"
              f"{'growth MB':>11}{'TFLOP/s':>9}{'MFU %':>7}")
    for name, r in rows.items():
        mfu = f"{100 * r['model_tflops_per_s'] / peak:>7.1f}" if peak else f"{'-':>7}"
        print(f"{name:<16}{r['step_s'] * 1e3:>10.1f}{r['cpu_s'] * 1e3:>10.1f}{r['tokens_per_s']:>10.0f}"
              f"{r['masked_per_step']:>8}{r['peak_mb']:>9.0f}{r['peak_growth_mb']:>11.0f}{r['model_tflops_per_s']:>9.3f}{mfu}")

    def ratio(label: str, numerator: list[str], denominator: list[str], goal: Optional[float] = None) -> None:
        values = {clock: sum(results[n][clock] for n in numerator) / sum(results[d][clock] for d in denominator)
                  for clock in clocks}
        summary[label] = {CLOCK_NAMES[clock]: v for clock, v in values.items()}
        shown = ", ".join(f"{CLOCK_NAMES[clock]} {v:.3f}" for clock, v in values.items())
        print(f"{label:<32}{shown}" + (f"   (goal <= {goal})" if goal else ""))

    summary: dict[str, Any] = {}
    if args.precision_pairs:
        precision_report(results, summary)
        return summary
    if "gcs_k4" in results:
        baseline_report(results, clocks, summary)
    if args.baselines_only:
        return summary
    print()
    names = [CLOCK_NAMES[c] for c in clocks]
    for name, label, goal in PAIRED_GOALS:
        if name in results:
            paired = results[name]
            summary[f"{label}, paired"] = {c: {"mean": paired[c]["mean"], "se": paired[c]["se"]} for c in names}
            medians = ", ".join(f"{c} " + " / ".join(f"{statistics.median(paired[c][f'{step}_s']) * 1e3:.0f}"
                                                     for step in paired["steps"]) for c in names)
            print(f"{label + ', paired':<32}" + ", ".join(f"{c} {paired[c]['mean']:.3f} ± {paired[c]['se']:.3f}"
                                                          for c in names)
                  + f"   (goal <= {goal}; mean ± s.e. over {paired['pairs']} pairs in one process; median ms "
                  + f"{' / '.join(paired['steps'])}: {medians})")
    if args.paired_only:
        return summary
    for k in (1, 2):
        ratio(f"MT / (finetune + {k} MLM), K={k}", [f"mt_k{k}"], ["finetune"] + ["mlm"] * k, 1.1)
    ks = (1, 2, 4) if "meta_k4" in results else (1, 2)
    for k in ks:
        ratio(f"META / MT, K={k}", [f"meta_k{k}"], [f"mt_k{k}"], {1: 1.5, 2: 1.35}.get(k))
    passes = results["meta_dev_passes"]
    for k in ks:  # META's floor: MT plus its unavoidable dev passes; what lies above it is overhead
        meta, mt = results[f"meta_k{k}"], results[f"mt_k{k}"]
        values = {clock: (1 + passes[clock] / mt[clock], (meta[clock] - mt[clock] - passes[clock]) / mt[clock])
                  for clock in clocks}
        summary[f"META floor and overhead / MT, K={k}"] = {CLOCK_NAMES[c]: v for c, v in values.items()}
        print(f"{f'META / MT floor, overhead, K={k}':<32}"
              + ", ".join(f"{CLOCK_NAMES[c]} {floor:.3f}, {over:+.3f}" for c, (floor, over) in values.items()))
    for k in ks:
        ratio(f"released META / META, K={k}", [f"released_meta_k{k}"], [f"meta_k{k}"])
    if "meta_k4" in results:
        for method in ("mt", "meta", "released_meta"):
            peaks = {k: round(results[f"{method}_k{k}"]["peak_growth_mb"]) for k in (1, 2, 4)}
            summary[f"{method}_peak_growth_mb"] = peaks
            print(f"{method.upper()} peak memory growth over setup: " + ", ".join(f"K={k} {v} MB" for k, v in peaks.items()))
        print("MLM step time (masked-only head vs vocabulary projection at all positions):")
        for p in args.mask_probabilities:
            masked = results["mlm" if p == 0.15 else f"mlm_p{p}"]
            full = results[f"mlm_all_p{p}"]
            summary[f"mlm_p{p}"] = {"masked_tokens": masked["masked_per_step"],
                                    **{f"masked_only_{CLOCK_NAMES[c]}_s": masked[c] for c in clocks},
                                    **{f"all_positions_{CLOCK_NAMES[c]}_s": full[c] for c in clocks}}
            print(f"  mask p={p:<5} {masked['masked_per_step']:>5} masked tokens: " + "; ".join(
                f"{CLOCK_NAMES[c]} {masked[c] * 1e3:.0f} vs {full[c] * 1e3:.0f} ms"
                for c in clocks))
    return summary


def parse(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(MODELS), default="small")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--batch-size", type=int, default=32, help="examples per task and step")
    parser.add_argument("--seq-len", type=int, help="tokens per sequence (default: the model's)")
    parser.add_argument("--dev-batch-size", type=int, help="META's scored rows: dev examples the meta-gradient is "
                        "taken on (the weighter's dev_batch_size, default 64; the released code's --classf_iter_batchsz)")
    parser.add_argument("--meta-batch-size", type=int, help="META's fitting rows: dev examples phi* is fitted on (the "
                        "weighter's meta_batch_size, default 32; the released code's --dev_batch_sz)")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--mask-probabilities", type=float, nargs="+", default=[0.05, 0.15, 0.5])
    parser.add_argument("--quick", action="store_true", help="only the step-time ratios")
    parser.add_argument("--baselines-only", action="store_true", help="only MT and the GCS, PCGrad and uncertainty rows")
    parser.add_argument("--paired-only", action="store_true", help="only the paired comparisons, each two steps in turn "
                        "in one process (--steps pairs): fine-tune against the plain Hugging Face loop, META against "
                        "MT at K = 1, 2")
    parser.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto",
                        help="the trainer's precision in every configuration (default auto)")
    parser.add_argument("--precision-pairs", action="store_true", help="only fine-tune, MT and META at K = 1, 2, each "
                        "step in bf16 and in fp32 in turn in one process (--steps pairs)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--peak-tflops", type=float, help="the device's peak TFLOP/s for the MFU column "
                        "(default: the datasheet bf16 peak of known GPUs)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data-root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.seq_len = args.seq_len or MODELS[args.model]["seq_len"]
    args.forwarded = ["--model", args.model, "--device", args.device, "--batch-size", str(args.batch_size),
                      "--seq-len", str(args.seq_len), "--steps", str(args.steps), "--warmup", str(args.warmup),
                      "--precision", args.precision]
    for flag, value in (("--dev-batch-size", args.dev_batch_size), ("--meta-batch-size", args.meta_batch_size)):
        if value:
            args.forwarded += [flag, str(value)]
    if args.threads:
        args.forwarded += ["--threads", str(args.threads)]
    return args


def main() -> None:
    args = parse()
    if args.worker:
        if args.threads:
            torch.set_num_threads(args.threads)
        if args.device == "cuda":
            # bf16 autocast comes from the Run on CUDA; TF32 as a GPU user would run it.
            torch.backends.cuda.matmul.allow_tf32 = True
        print(json.dumps(measure(args, Case(**json.loads(args.worker)), args.data_root)))
        return
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tartan-bench-") as scratch:
        data_root, cache = Path(scratch) / "data", Path(scratch) / "cache"
        write_data(data_root, MODELS[args.model]["vocab_size"], args.seq_len)
        results = {}
        for case in cases(args):
            r = results[case.name] = run_case(args, case, data_root, cache)
            done = f"cpu ratio {r['cpu']['mean']:.3f}" if "pairs" in r else f"{r['step_s'] * 1e3:.1f} ms/step"
            print(f"{case.name}: {done}", file=sys.stderr, flush=True)
    summary = report(args, results)
    print(f"\ntotal bench time {time.perf_counter() - started:.0f} s")
    if args.json:
        settings = {k: v for k, v in vars(args).items() if k not in ("json", "worker", "data_root", "forwarded")}
        args.json.write_text(json.dumps({"settings": settings, "results": results, "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
