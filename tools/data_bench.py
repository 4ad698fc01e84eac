"""Tokenise and stream a synthetic DAPT corpus: wall and CPU time, peak memory, first-step latency, and the
second (cached) run, for this checkout and, side by side, another one (e.g. main's, before the data layer
moved to ``datasets``).

    python tools/data_bench.py --sizes 100,300 --before /tmp/wt-main-bench --threads 1

Each measurement is a fresh process with an empty cache (then the same cache again, for the cached run), so
peak RSS is the process's own. The corpus is generated once into ``--work``: paragraphs of 40-200 words
drawn with the word frequencies of a real DAPT corpus (``$TARTAN_DATA/citation_intent/domain.1xTAPT.txt``)
when there is one, else of made-up words, a blank line after every 256 paragraphs. Every run uses the same
WordPiece tokenizer (8000 pieces, trained on the corpus's first 2 MB) and truncates to 128 tokens.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

MB = 2**20


def generate(path: Path, size: int, seed: int = 0) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    source = Path(os.environ.get("TARTAN_DATA", "")) / "citation_intent" / "domain.1xTAPT.txt"
    if source.is_file():
        counts = collections.Counter(source.read_text(encoding="utf-8").split())
    else:
        letters = list("etaoinshrdlucmfwypvbgkqjxz")
        counts = collections.Counter({"".join(rng.choice(letters, rng.integers(1, 10))): 1 / (rank + 1)
                                      for rank in range(20000)})
    words = np.array(list(counts), dtype=object)
    weights = np.array(list(counts.values()), dtype=float)
    weights /= weights.sum()
    partial = path.with_suffix(".partial")
    written = 0
    with partial.open("w", encoding="utf-8") as out:
        while written < size:
            lengths = rng.integers(40, 200, size=256)
            drawn = words[rng.choice(len(words), size=int(lengths.sum()), p=weights)]
            bounds = np.concatenate([[0], np.cumsum(lengths)])
            chunk = "\n".join(" ".join(drawn[a:b]) for a, b in zip(bounds[:-1], bounds[1:])) + "\n\n"
            out.write(chunk)
            written += len(chunk.encode("utf-8"))
    partial.replace(path)


class PeakAnonymous:
    """Samples the process's anonymous resident memory (RssAnon: what it allocated, not the file pages it
    maps, which the kernel can drop) every 20 ms; ``ru_maxrss`` counts both."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("RssAnon:"):
                    self.peak = max(self.peak, int(line.split()[1]) * 1024)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def measure(work: Path, corpus: str, threads: int) -> dict:
    """One run: build the body (tokenizer from the cache after the first run), set up a masked-LM task on
    the corpus (read, tokenise or load the cache), then one training step."""
    import torch

    torch.set_num_threads(threads)
    from tartan_fw.data.root import DataRoot
    from tartan_fw.models.bodies.scratch import ScratchBody
    from tartan_fw.tasks.masked_lm import MaskedLMTask

    anonymous = PeakAnonymous()
    root = DataRoot(work, fetch_missing=False)
    body = ScratchBody(data_root=root, tokenizer_corpora=["tokenizer.txt"], vocab_size=8000, hidden_size=128,
                       num_layers=2, num_heads=2, intermediate_size=512, max_length=128)
    start, cpu = time.perf_counter(), _cpu()
    task = MaskedLMTask(body, root, 0, name="dapt", corpus=corpus, batch_size=16)
    setup_wall, setup_cpu = time.perf_counter() - start, _cpu() - cpu
    batch = task.next_batch()
    task.loss(body, batch).total.backward()
    first_step = time.perf_counter() - start
    return {"texts": len(task.texts), "setup_s": setup_wall, "setup_cpu_s": setup_cpu, "first_step_s": first_step,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "peak_anon_mb": anonymous.stop() / MB}


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_child(code: Path, work: Path, corpus: str, cache: Path, threads: int, cap_gb: float) -> dict:
    environment = {**os.environ, "PYTHONPATH": str(code), "TARTAN_CACHE": str(cache), "OMP_NUM_THREADS": str(threads),
                   "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}
    command = [sys.executable, __file__, "--measure", corpus, "--work", str(work), "--threads", str(threads),
               "--memory-cap-gb", str(cap_gb)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, env=environment, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(process.pid, 0)  # the child's own peak RSS, even when it fails
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode:
            lines = err.read().strip().splitlines()
            memory = any(sign in line for line in lines for sign in ("MemoryError", "bad_alloc", "allocate memory"))
            why = f"out of the {cap_gb:g} GiB address-space cap" if memory else (lines[-1] if lines else "")
            return {"failed": f"exit {process.returncode} after {time.perf_counter() - start:.0f} s, {why}",
                    "peak_rss_mb": usage.ru_maxrss / 1024}
        return json.loads(out.read().strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,300", help="corpus sizes in MB")
    parser.add_argument("--before", type=Path, help="another checkout (its repository root) to measure beside this one")
    parser.add_argument("--work", type=Path, default=Path("/tmp/tartan-data-bench"), help="corpora and caches")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--memory-cap-gb", type=float, default=10.0,
                        help="address-space cap of each measured process, so a run that needs more fails, not the machine")
    parser.add_argument("--keep", action="store_true", help="keep the generated corpora and caches")
    parser.add_argument("--measure", metavar="CORPUS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        cap = int(args.memory_cap_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        print(json.dumps(measure(args.work, args.measure, args.threads)))
        return

    args.work.mkdir(parents=True, exist_ok=True)
    sizes = [float(s) if "." in s else int(s) for s in args.sizes.split(",")]
    here = Path(__file__).resolve().parents[1]
    versions = {"after": here, **({"before": args.before.resolve()} if args.before else {})}
    results = []
    for size in sizes:
        corpus = args.work / f"corpus-{size}MB.txt"
        if not corpus.exists():
            generate(corpus, int(size * MB))
        tokenizer = args.work / "tokenizer.txt"
        if not tokenizer.exists():
            with corpus.open("rb") as source:
                tokenizer.write_bytes(source.read(2 * MB).rsplit(b"\n", 1)[0] + b"\n")
        for name, code in versions.items():
            cache = args.work / f"cache-{name}-{size}"
            shutil.rmtree(cache, ignore_errors=True)
            for run in ("first", "cached"):
                result = run_child(code, args.work, corpus.name, cache, args.threads, args.memory_cap_gb)
                results.append({"size_mb": size, "version": name, "run": run, **result})
                print(json.dumps(results[-1]), flush=True)
                if "failed" in result:
                    break  # nothing was cached
            if not args.keep:
                shutil.rmtree(cache, ignore_errors=True)
        if not args.keep:
            corpus.unlink()
    if not args.keep:
        shutil.rmtree(args.work, ignore_errors=True)
    print()
    print("| corpus | code | run | texts | setup wall s | setup CPU s | first step s | peak RSS MB | peak anon RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        if "failed" in r:
            print(f"| {r['size_mb']} MB | {r['version']} | {r['run']} | failed: {r['failed']} | | | | "
                  f"{r['peak_rss_mb']:.0f} | |")
        else:
            print(f"| {r['size_mb']} MB | {r['version']} | {r['run']} | {r['texts']} | {r['setup_s']:.1f} | "
                  f"{r['setup_cpu_s']:.1f} | {r['first_step_s']:.1f} | {r['peak_rss_mb']:.0f} | {r['peak_anon_mb']:.0f} |")


if __name__ == "__main__":
    main()
