"""Shared fixtures: a tiny synthetic task on disk, a tiny from-scratch experiment config, and
registry isolation so tests that register components do not leak them."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

# Tiny models on two shared cores, often two pytest workers: one intra-op thread per process keeps
# OpenMP threads from spinning against each other (tens of times slower when the machine is busy).
# Set before torch is imported, and inherited by the CLI subprocesses tests start.
os.environ.setdefault("OMP_NUM_THREADS", "1")

# Absolute, and exported so: README's command gives a relative root (TARTAN_DATA=../shared/data), and
# tests that change directory (the tutorials run in a project folder) must still find it.
REAL_DATA = Path(os.environ.get("TARTAN_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")).resolve()
if "TARTAN_DATA" in os.environ:
    os.environ["TARTAN_DATA"] = str(REAL_DATA)
needs_real_data = pytest.mark.skipif(
    not (REAL_DATA / "citation_intent" / "train.jsonl").exists(), reason=f"real data not found at {REAL_DATA} (set TARTAN_DATA)"
)

REPO = Path(__file__).resolve().parents[1]
# The repository's own plugins, named as its experiments name them (``include: ['plugins.cifar']``).
SHIPPED_PLUGINS = ("plugins.electra", "plugins.cifar")


def load_shipped_plugins() -> None:
    """Import the shipped plugins from the repository, whatever the working directory."""
    from tartan_fw.plugins import load_plugins

    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    load_plugins(SHIPPED_PLUGINS)


def slurm_cluster_up() -> bool:
    """A Slurm cluster answers here (tools/slurm/start_cluster.sh starts one on localhost)."""
    import shutil
    import subprocess

    if shutil.which("sinfo") is None:
        return False
    answer = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30)
    return answer.returncode == 0 and any(state in answer.stdout for state in ("idle", "mixed", "allocated"))


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    """Skips a test that needs Slurm where no cluster runs, except in CI (``CI`` set), where it must run."""
    if not slurm_cluster_up():
        if os.environ.get("CI"):
            pytest.fail("CI is set but no Slurm cluster answers: .ci/run starts one with tools/slurm/start_cluster.sh")
        pytest.skip("no Slurm cluster here; start one with tools/slurm/start_cluster.sh (root, Debian)")


WORDS = {
    "background": ["prior", "work", "earlier", "studies", "known"],
    "method": ["we", "use", "algorithm", "apply", "model"],
    "result": ["improves", "accuracy", "outperforms", "score", "gain"],
}
FILLER = ["the", "a", "of", "in", "and", "to", "for", "with", "on", "this", "that", "is", "are"]


def write_tiny_task(root: Path, name: str = "tiny", sizes: tuple[int, int, int] = (48, 12, 12), seed: int = 0) -> Path:
    """A 3-class task whose label is signalled by its words, with TAPT and DAPT corpora."""
    rng = random.Random(seed)
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    labels = sorted(WORDS)

    def text(label: str) -> str:
        words = [rng.choice(WORDS[label]) for _ in range(3)] + [rng.choice(FILLER) for _ in range(rng.randint(3, 9))]
        rng.shuffle(words)
        return " ".join(words)

    for split, size in zip(("train", "dev", "test"), sizes):
        with (folder / f"{split}.jsonl").open("w") as out:
            for i in range(size):
                label = labels[i % len(labels)]
                out.write(json.dumps({"text": text(label), "label": label, "id": i}) + "\n")
    train_texts = [json.loads(line)["text"] for line in (folder / "train.jsonl").open()]
    (folder / "train.txt").write_text("\n".join(train_texts) + "\n")
    domain = [text(rng.choice(labels)) for _ in range(sizes[0])]
    (folder / "domain.1xTAPT.txt").write_text("\n".join(domain) + "\n")
    return folder


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "data"
    write_tiny_task(root)
    monkeypatch.setenv("TARTAN_DATA", str(root))
    return root


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    if "TARTAN_CACHE" not in os.environ:
        monkeypatch.setenv("TARTAN_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture
def registry():
    """Restores every registry, and forgets the plugins loaded meanwhile, after the test."""
    from tartan_fw import plugins
    from tartan_fw.common import registrable

    plugins.load_builtins()  # before the snapshot, so the built-ins survive it
    saved, loaded = registrable.snapshot(), plugins.loaded_plugins()
    yield registrable
    registrable.restore(saved)
    plugins.forget_plugins(loaded)


def tiny_config(data_root: Path, aux: tuple[str, ...] = ("tapt", "dapt"), **trainer: Any) -> dict[str, Any]:
    """A complete experiment on the tiny task with a one-layer, 32-wide scratch encoder."""
    aux_tasks = {
        "tapt": {"type": "mlm", "name": "tapt", "corpus": "tiny/train.txt", "batch_size": 4},
        "dapt": {"type": "mlm", "name": "dapt", "corpus": "tiny/domain.1xTAPT.txt", "batch_size": 4},
    }
    return {
        "data_root": str(data_root),
        "seed": 0,
        "body": {
            "type": "scratch",
            "tokenizer_corpora": ["tiny/train.txt", "tiny/domain.1xTAPT.txt"],
            "vocab_size": 120,
            "hidden_size": 32,
            "num_layers": 1,
            "num_heads": 2,
            "intermediate_size": 64,
            "dropout": 0.0,
            "max_length": 32,
        },
        "end_task": {"type": "classification", "dataset": "tiny", "metric": "macro_f1", "batch_size": 6,
                     "head": {"type": "classification", "dropout": 0.0}},
        "aux_tasks": [aux_tasks[name] for name in aux],
        "weighter": {"type": "uniform"},
        # fp32: the tests that recompute a step directly compare at fp32 tolerances; bf16 has its own
        # (tests/test_precision.py, tests/test_resume.py). No head warm-up: the steps counted are the
        # stages' own (tests/test_head_warmup.py has it).
        "trainer": {"type": "tartan", "max_steps": 6, "eval_every": 3, "log_every": 1, "body_lr": 1e-3,
                    "precision": "fp32", "head_warmup_steps": None, **trainer},
    }


@pytest.fixture
def tiny(data_root: Path):
    """Builds tiny configs: ``tiny(aux=("tapt",), max_steps=4)``."""
    return lambda **kwargs: tiny_config(data_root, **kwargs)


def invoke(*args: str) -> Any:
    """The ``tartan-fw`` command run in this process (click's test runner) with ``args``."""
    from click.testing import CliRunner

    from tartan_fw.cli.main import cli

    return CliRunner().invoke(cli, list(args))


def assert_one_line_error(result: Any, *fragments: str) -> str:
    """Exit 2, one ``error:`` line containing every fragment, no traceback."""
    assert result.exit_code == 2, result.output
    assert result.exc_info is None or result.exc_info[0] is SystemExit, result.exc_info
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def without_wall_time(value: Any) -> Any:
    """``value`` (metrics, nested) without its wall-clock times, which differ between identical runs."""
    if isinstance(value, dict):
        return {k: without_wall_time(v) for k, v in value.items() if k != "wall_time_s"}
    if isinstance(value, list):
        return [without_wall_time(v) for v in value]
    return value


def wait_until_catching(process: subprocess.Popen, number: int, timeout: float = 120) -> None:
    """Return once ``process`` has a handler installed for signal ``number`` (the kernel's ``SigCgt`` mask in
    ``/proc``): the readiness the signal tests wait for, instead of a sleep that guesses it."""
    status, deadline = Path(f"/proc/{process.pid}/status"), time.monotonic() + timeout
    while True:
        mask = next(line.split()[1] for line in status.read_text().splitlines() if line.startswith("SigCgt:"))
        if int(mask, 16) >> (number - 1) & 1:
            return
        assert process.poll() is None and time.monotonic() < deadline, f"no handler for signal {number} came up"
        time.sleep(0.005)
