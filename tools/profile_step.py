"""Profile one fine-tuning step of tartan-fw beside the plain Hugging Face loop, in one process.

``tools/bench.py`` times the two in separate processes, whose ratio moves between runs by more than the
gap it measures; this puts both under ``torch.profiler`` on the same shape (bench's small BERT, its
data and flags), after the same warm-up, and prints each step's operators by self CPU time:

    python tools/profile_step.py --threads 1
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (the bench's model shapes, data and plain loop)

ROWS = 15


def main() -> None:
    args = bench.parse()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    with tempfile.TemporaryDirectory(prefix="tartan-profile-") as scratch:
        data_root = Path(scratch) / "data"
        os.environ["TARTAN_CACHE"] = str(Path(scratch) / "cache")
        bench.write_data(data_root, bench.MODELS[args.model]["vocab_size"], args.seq_len)
        from tartan_fw.experiment import training_loop

        case = bench.Case("finetune", "end", aux=0)
        loop = training_loop(bench.experiment_config(args, case, data_root), data_root, device,
                             lambda run, stages: replace(stages[0], name="profile", tasks=[run.end_task]))
        steps = {"tartan-fw fine-tune": loop.step, "plain Hugging Face loop": bench.hugging_face_step(args, device)}
        for name, step in steps.items():
            for n in range(1, args.warmup + 1):
                step(n)
            with profile(activities=[ProfilerActivity.CPU]) as profiler:
                step(args.warmup + 1)
            print(f"== {name}")
            print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=ROWS,
                                                max_name_column_width=40))


if __name__ == "__main__":
    main()
