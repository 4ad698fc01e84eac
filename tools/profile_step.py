"""Profile training steps side by side in one process, by operator and by phase.

``tools/bench.py`` times each configuration in its own process, whose ratios move between runs by
more than some gaps they measure; this puts the steps under ``torch.profiler`` in one process, on the
bench's shape, data and flags, after the same warm-up, and prints each step's operators by self CPU
time. Two comparisons:

- default: tartan-fw's fine-tune step beside the plain Hugging Face loop;
- ``--meta``: MT-TARTAN's step, META-TARTAN's and META's dev passes alone (``bench.MetaDevPasses``)
  at K = ``--aux`` auxiliary tasks, then the operators whose self CPU time in META's step differs
  most from MT's plus the dev passes' (what lies above META's floor), the time of META's phases and
  the page faults of each step (fresh large allocations show there).

    python tools/profile_step.py --threads 1
    python tools/profile_step.py --meta --threads 1 --dev-batch-size 16 --meta-batch-size 32

Other flags are tools/bench.py's (shape, batch sizes, ``--warmup``).
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import torch
from torch.profiler import ProfilerActivity, profile, record_function

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (the bench's model shapes, data, loops and plain loop)

ROWS = 15
PHASE = "phase: "  # prefix of the labels this tool puts around META's phases


def labelled(name: str, function: Callable[..., Any], cpu: Counter) -> Callable[..., Any]:
    """``function`` inside a profiler label, so its inclusive time shows as a phase; its process CPU time is
    added to ``cpu[name]`` too, which, unlike the profiler's clock, does not count time spent preempted."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            with record_function(PHASE + name):
                return function(*args, **kwargs)
        finally:
            cpu[name] += time.process_time() - started

    return wrapper


def label_phases(loop: Any, cpu: Counter) -> None:
    """Labels around the step's per-task gradients and, under META, the weighter's work (instance attributes)."""
    loop.task_gradient = labelled("task gradient (forward, backward)", loop.task_gradient, cpu)
    weighter = loop.weighter
    if isinstance(weighter, bench.MetaWeighter):
        phases = {"coefficient": "coefficient (cosine, logit; meta-gradient for the end-task)",
                  "_meta_gradient": "meta-gradient (rows, fit, scored pass, flatten)",
                  "_meta_batch": "fitting rows' forward without gradients", "_batch": "collate and to_device"}
        for attribute, name in phases.items():
            setattr(weighter, attribute, labelled(name, getattr(weighter, attribute), cpu))
        weighter.fitter.fit = labelled("fit phi*", weighter.fitter.fit, cpu)


def profiled(step: Callable[[int], Any], n: int) -> tuple[Any, int, float]:
    """One call of ``step`` under the profiler, the minor page faults it took and its process CPU seconds."""
    faults, started = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.process_time()
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        step(n)
    cpu = time.process_time() - started
    return profiler.key_averages(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults, cpu


def self_ms(averages: Any) -> tuple[Counter, Counter]:
    """Self CPU ms and calls by operator, without this tool's phase labels."""
    times, calls = Counter(), Counter()
    for event in averages:
        if not event.key.startswith(PHASE):
            times[event.key] += event.self_cpu_time_total / 1e3
            calls[event.key] += event.count
    return times, calls


def meta_report(names: list[str], tables: dict[str, list[Any]], faults: dict[str, list[int]], cpu: Counter,
                steps_cpu: dict[str, float]) -> None:
    """META minus MT minus the dev passes, by operator; META's phases; page faults per step."""
    mt, meta, passes = names
    rounds = len(tables[mt])
    totals, calls = {}, {}
    for name in names:
        per_table = [self_ms(t) for t in tables[name]]
        totals[name] = sum((ms for ms, _ in per_table), Counter())
        calls[name] = sum((count for _, count in per_table), Counter())
    per = {name: {op: ms / rounds for op, ms in totals[name].items()} for name in names}
    whole = {name: sum(per[name].values()) for name in names}
    excess = whole[meta] - whole[mt] - whole[passes]
    print(f"== self CPU ms per step, mean of {rounds}: MT {whole[mt]:.0f}, META {whole[meta]:.0f}, dev passes "
          f"{whole[passes]:.0f}; META - MT - passes {excess:+.0f} ms ({excess / whole[mt]:+.3f} of MT)")
    operators = set().union(*per.values())
    rows = sorted(operators, key=lambda op: -abs(per[meta].get(op, 0) - per[mt].get(op, 0) - per[passes].get(op, 0)))
    print(f"{'operator':<44}{'MT ms':>9}{'META ms':>9}{'passes':>9}{'excess':>9}{'calls MT/META/passes':>24}")
    for op in rows[:ROWS]:
        values = [per[name].get(op, 0.0) for name in names]
        counts = "/".join(str(calls[name][op] // rounds) for name in names)
        print(f"{op[:43]:<44}{values[0]:>9.1f}{values[1]:>9.1f}{values[2]:>9.1f}"
              f"{values[1] - values[0] - values[2]:>+9.1f}{counts:>24}")
    print(f"\n== process CPU ms per step (mean of {rounds}; not counting time preempted): "
          + ", ".join(f"{name} {steps_cpu[name] * 1e3 / rounds:.0f}" for name in names)
          + f"; META - MT - passes {(steps_cpu[meta] - steps_cpu[mt] - steps_cpu[passes]) * 1e3 / rounds:+.0f}")
    print(f"== META's phases, inclusive ms per step (mean of {rounds}): profiler, process CPU")
    phases = Counter()
    for table in tables[meta]:
        for event in table:
            if event.key.startswith(PHASE):
                phases[event.key[len(PHASE):]] += event.cpu_time_total / 1e3 / rounds
    for phase, ms in phases.most_common():
        print(f"  {phase:<62}{ms:>9.1f}{cpu[phase] * 1e3 / rounds:>9.1f}")
    print("== minor page faults per step: " + ", ".join(f"{name} {sum(faults[name]) // rounds}" for name in names))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meta", action="store_true", help="META-TARTAN's step beside MT-TARTAN's and META's dev passes")
    parser.add_argument("--aux", type=int, default=2, help="auxiliary MLM tasks of the --meta steps (default 2, "
                        "where META/MT's goal is 1.35)")
    parser.add_argument("--rounds", type=int, default=1, help="profiled steps of each, interleaved (default 1)")
    own, rest = parser.parse_known_args()
    args = bench.parse(rest)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    phases_cpu = Counter()
    with tempfile.TemporaryDirectory(prefix="tartan-profile-") as scratch:
        data_root = Path(scratch) / "data"
        os.environ["TARTAN_CACHE"] = str(Path(scratch) / "cache")
        bench.write_data(data_root, bench.MODELS[args.model]["vocab_size"], args.seq_len)
        if own.meta:
            mt = bench.build_loop(args, bench.Case("mt", "end+mlm", aux=own.aux), data_root, device)
            meta = bench.build_loop(args, bench.Case("meta", "end+mlm", aux=own.aux, weighter="meta"), data_root, device)
            label_phases(mt, Counter())  # MT's phases are not reported; labelled alike so both steps carry the same cost
            label_phases(meta, phases_cpu)
            steps = {f"MT-TARTAN, K={own.aux}": mt.step, f"META-TARTAN, K={own.aux}": meta.step,
                     "META's dev passes alone": bench.MetaDevPasses(meta)}
        else:
            loop = bench.build_loop(args, bench.Case("finetune", "end", aux=0), data_root, device)
            plain = bench.hugging_face_step(args, device, bench.first_batch(loop.run.end_task, args))
            steps = {"tartan-fw fine-tune": loop.step, "plain Hugging Face loop": plain}
        for step in steps.values():
            for n in range(1, args.warmup + 1):
                step(n)
        phases_cpu.clear()  # of the profiled steps only
        tables: dict[str, list[Any]] = {name: [] for name in steps}
        faults: dict[str, list[int]] = {name: [] for name in steps}
        steps_cpu = Counter()
        for r in range(own.rounds):
            for name, step in steps.items():
                averages, taken, cpu = profiled(step, args.warmup + 1 + r)
                tables[name].append(averages)
                faults[name].append(taken)
                steps_cpu[name] += cpu
        for name, averages in tables.items():
            print(f"== {name}")
            print(averages[-1].table(sort_by="self_cpu_time_total", row_limit=ROWS, max_name_column_width=40))
        if own.meta:
            meta_report(list(steps), tables, faults, phases_cpu, steps_cpu)


if __name__ == "__main__":
    main()
