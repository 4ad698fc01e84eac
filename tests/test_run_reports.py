"""What a finished run tells its user: the majority-class baseline and per-class report beside the
score, a warning when the result is trivial, plain progress lines for batch jobs, and a thread
count that does not oversubscribe the machine."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from tartan_fw.cli.main import cli
from tartan_fw.common import threads
from tartan_fw.common.threads import cpu_ticks, thread_budget
from tartan_fw.training.metrics import class_report, majority_baseline, trivial_result

LABELS = ["a", "b", "c"]


def test_majority_baseline_predicts_the_most_frequent_training_label() -> None:
    train = torch.tensor([0, 1, 1, 2, 1])
    gold = torch.tensor([0, 1, 2, 2])
    baseline = majority_baseline(train, gold, LABELS)
    assert baseline["label"] == "b"
    assert baseline["accuracy"] == pytest.approx(0.25)
    assert baseline["macro_f1"] == pytest.approx((2 * 0.25 / 1.25) / 3)  # F1 of 'b' (p 1/4, r 1), 0 for the rest


def test_class_report_has_precision_recall_f1_and_the_confusion_matrix() -> None:
    gold = torch.tensor([0, 0, 1, 1, 2, 2])
    predicted = torch.tensor([0, 1, 1, 1, 1, 2])
    report = class_report(predicted, gold, LABELS)
    assert report["per_class"]["b"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 2})
    assert report["per_class"]["a"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert report["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [0, 1, 1]]  # rows gold, columns predicted
    assert report["predicted_labels"] == ["a", "b", "c"]


def metrics_with(test_score: float, predicted: list[str]) -> dict:
    return {"metric": "macro_f1", "best_step": 40, "test": {"macro_f1": test_score},
            "majority_baseline": {"test": {"label": "b", "macro_f1": 0.2}}, "test_report": {"predicted_labels": predicted}}


def test_a_trivial_result_is_named_and_a_real_one_is_not() -> None:
    single = trivial_result(metrics_with(0.2, ["b"]))
    assert single.startswith("the selected model (step 40) predicts 'b' for every test example: it learned nothing")
    worse = trivial_result(metrics_with(0.15, ["a", "b"]))
    assert "scores test macro_f1 0.1500, no better than always predicting 'b' (0.2000)" in worse
    assert trivial_result(metrics_with(0.5, ["a", "b", "c"])) is None
    assert trivial_result({"metric": "macro_f1", "test": {"macro_f1": 0.1}}) is None  # a run from before reports


def write_config(path: Path, config: dict) -> Path:
    path.write_text(json.dumps(config))
    return path


def test_a_run_reports_its_baseline_and_classes_and_a_batch_job_gets_plain_lines(tmp_path: Path, tiny, caplog) -> None:
    config = write_config(tmp_path / "mt.json", tiny(aux=("tapt",), max_steps=4, eval_every=2, log_every=2))
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", str(config), "-s", str(out), "--device", "cpu", "--threads", "1"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    test_file = Path(tiny()["data_root"]) / "tiny" / "test.jsonl"
    gold = [json.loads(line)["label"] for line in test_file.read_text().splitlines()]
    report = metrics["test_report"]
    assert {k: v["support"] for k, v in report["per_class"].items()} == {label: gold.count(label) for label in set(gold)}
    assert sum(map(sum, report["confusion_matrix"])) == len(gold)
    predicted_counts = [sum(column) for column in zip(*report["confusion_matrix"])]
    assert report["predicted_labels"] == [l for l, n in zip(report["per_class"], predicted_counts) if n]
    assert metrics["majority_baseline"]["test"]["label"] == "background"  # the tiny task's classes tie; the first wins
    expected_warnings = [trivial_result(metrics)] if trivial_result(metrics) else []
    assert metrics["warnings"] == expected_warnings
    assert [r.getMessage().split(": ", 1)[1] for r in caplog.records if r.levelname == "WARNING"] == expected_warnings

    # CliRunner's stdout is not a terminal: plain lines, every log_every steps, the same in log.txt.
    lines = result.stdout.splitlines()
    progress = [line for line in lines if " multitask step " in line]
    assert len(progress) == 2
    assert re.search(r"multitask step 2/4 \| loss tiny \d+\.\d{3} \(w 0\.500\) tapt \d+\.\d{3} \(w 0\.500\) \| "
                     r"dev macro_f1 \d\.\d{4} \(best \d\.\d{4} at step 2\) \| elapsed \d+s, remaining ~\d+s", progress[0])
    assert any(line.endswith("CPU threads, fp32") and "starting" in line for line in lines)
    assert any(re.search(r"step 4: dev micro_f1 \S+ macro_f1 \S+ accuracy \S+$", line) for line in lines)
    assert any("majority-class baseline (always 'background')" in line for line in lines)
    assert any(line.split(" ", 1)[1].startswith("gold \\ predicted  precision  recall") for line in lines)
    assert not any("━" in line or "…" in line for line in lines)  # no progress bar drawn into a file
    log = (out / "log.txt").read_text()
    for line in progress:
        assert line.split(" ", 1)[1] in log
    assert "starting" in log and "step 2: dev" in log and "majority-class baseline" in log
    # the silent phases of a run said as they begin, on stdout off a terminal too
    assert any(line.endswith("reading and tokenising tapt") for line in lines)
    assert any(line.endswith("training done; evaluating the best model on dev and test") for line in lines)


def test_a_batch_job_gets_no_library_progress_bars(tmp_path: Path, tiny, monkeypatch) -> None:
    """datasets' bars (reading each file, tokenising: ``Map``) redraw on a terminal but print a line per redraw
    into a file; with a fresh cache every file is read and tokenised, so each would show one."""
    monkeypatch.setenv("TARTAN_CACHE", str(tmp_path / "fresh-cache"))
    config = write_config(tmp_path / "mt.json", tiny(aux=("tapt",), max_steps=2, eval_every=2))
    out = tmp_path / "run"
    runner = CliRunner()
    result = runner.invoke(cli, ["run", str(config), "-s", str(out), "--device", "cpu", "--threads", "1"])
    assert result.exit_code == 0, result.output
    evaluated = runner.invoke(cli, ["evaluate", str(out), "--device", "cpu"])
    assert evaluated.exit_code == 0, evaluated.output
    for output in (result.output, evaluated.output, (out / "log.txt").read_text()):
        assert not re.search(r"Generating|Tokenising|examples/s|it/s|\d+%\|", output), output
    assert (tmp_path / "fresh-cache" / "datasets").is_dir()  # the data was read and tokenised, silently


def test_library_progress_bars_stay_on_a_terminal(monkeypatch) -> None:
    import datasets
    import huggingface_hub.utils

    from tartan_fw.cli.app import data_progress

    monkeypatch.setattr(sys, "stderr", type("Terminal", (), {"isatty": lambda self: True, "write": print})())
    data_progress(True)
    assert datasets.is_progress_bar_enabled() and not huggingface_hub.utils.are_progress_bars_disabled()
    data_progress(False)  # --quiet
    assert not datasets.is_progress_bar_enabled() and huggingface_hub.utils.are_progress_bars_disabled()
    monkeypatch.undo()
    data_progress(True)  # pytest's stderr is not a terminal
    assert not datasets.is_progress_bar_enabled()


def test_quiet_prints_the_summary_once_and_the_journal_still_fills_log_txt(tmp_path: Path, tiny) -> None:
    config = write_config(tmp_path / "mt.json", tiny(aux=(), max_steps=2, eval_every=2, log_every=1))
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", str(config), "-s", str(out), "--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "multitask step" not in result.stdout
    assert result.stdout.count("majority-class baseline") == 1
    assert (out / "log.txt").read_text().count("multitask step") == 2
    # what runs, in order, from the start to the test evaluation; a fine-tune-only stage names no weighter
    log = (out / "log.txt").read_text()
    phases = ["starting", "building the body (", "reading and tokenising tiny",
              "stage multitask: steps 1 to 2; the end-task tiny alone (fine-tuning)",
              "training done; evaluating the best model on dev and test", "majority-class baseline"]
    positions = [log.index(phase) for phase in phases]
    assert positions == sorted(positions) and "Weighter" not in log, log
    assert "reading and tokenising" not in result.stdout  # --quiet


def test_cpu_ticks_count_the_given_cpus_lines_busy_all_but_idle_and_iowait() -> None:
    stat = ("cpu  300 20 30 900 12 0 4 2 50 0\n"  # all CPUs together: not counted again
            "cpu0 100 10 20 500 7 0 3 1 50 0\n"  # busy 100+10+20+0+3+1 (guest 50 is inside user)
            "cpu1 200 10 10 400 5 0 1 1 0 0\n"
            "cpu12 9 9 9 9 9 9 9 9 9 9\n"  # not this process's
            "intr 910327 0 1\nctxt 811438\nbtime 1796193606\n\nprocs_running 5\n")
    assert cpu_ticks(stat, {0}) == (134, 641)
    assert cpu_ticks(stat, {0, 1}) == (134 + 222, 641 + 627)


def fake_proc_stat(tmp_path: Path, monkeypatch, busy_share: list[float]) -> None:
    """A /proc/stat whose CPU n is busy ``busy_share[n]`` of the 100 ticks between the two samples."""
    def stat(ticks: int) -> str:
        return "".join(f"cpu{n} {round(share * ticks)} 0 0 {round((1 - share) * ticks)} 0 0 0 0 0 0\n"
                       for n, share in enumerate(busy_share))

    path = tmp_path / "stat"
    path.write_text(stat(1000))
    monkeypatch.setattr(threads, "PROC_STAT", path)
    monkeypatch.setattr(threads, "sleep", lambda seconds: path.write_text(stat(1100)))
    monkeypatch.setattr(threads, "CGROUP_CPU_MAX", tmp_path / "no-cgroup")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(len(busy_share))))


def test_thread_budget_takes_omp_num_threads_else_the_cores_idle_now_shared_by_the_jobs(tmp_path: Path,
                                                                                       monkeypatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert thread_budget() == 3 and thread_budget(jobs=2) == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setattr(os, "getloadavg", lambda: (2.0, 0.0, 0.0))  # a run that has just ended, not now's load
    fake_proc_stat(tmp_path, monkeypatch, [0.0] * 7 + [0.2])
    assert thread_budget() == 8 and thread_budget(jobs=3) == 2 and thread_budget(jobs=16) == 1
    fake_proc_stat(tmp_path, monkeypatch, [1.0] * 5 + [0.3, 0.3, 0.0])  # other work keeps 5.6 cores busy
    assert thread_budget() == 2
    fake_proc_stat(tmp_path, monkeypatch, [1.0] * 8)
    assert thread_budget() == 1


def test_thread_budget_keeps_within_the_containers_cpu_quota(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    fake_proc_stat(tmp_path, monkeypatch, [0.0] * 8)  # eight idle cores in the affinity mask
    cpu_max = tmp_path / "cpu.max"
    monkeypatch.setattr(threads, "CGROUP_CPU_MAX", cpu_max)
    for line, budget in [("max 100000", 8), ("250000 100000", 2), ("50000 100000", 1), ("garbled", 8)]:
        cpu_max.write_text(line + "\n")
        assert thread_budget() == budget, line
    cpu_max.write_text("400000 100000\n")
    assert thread_budget(jobs=2) == 2


def test_thread_budget_falls_back_to_the_load_average_without_proc_stat(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "PROC_STAT", tmp_path / "absent")
    monkeypatch.setattr(threads, "CGROUP_CPU_MAX", tmp_path / "no-cgroup")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    monkeypatch.setattr(os, "getloadavg", lambda: (5.6, 0.0, 0.0))
    assert thread_budget() == 2
    monkeypatch.setattr(os, "getloadavg", lambda: (30.0, 0.0, 0.0))
    assert thread_budget() == 1


def test_run_without_threads_uses_the_budget(tmp_path: Path, tiny, monkeypatch) -> None:
    chosen: list[int] = []
    monkeypatch.setattr(torch, "set_num_threads", chosen.append)
    monkeypatch.setattr("tartan_fw.common.threads.thread_budget", lambda jobs=1: 5)
    config = write_config(tmp_path / "mt.json", tiny(aux=(), max_steps=1, eval_every=1))
    result = CliRunner().invoke(cli, ["run", str(config), "-s", str(tmp_path / "run"), "--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    assert chosen == [5]


def test_sweep_gives_each_job_its_share_of_threads(tmp_path: Path, tiny, monkeypatch) -> None:
    from tartan_fw import sweep

    started: list[tuple[list[str], str]] = []

    def record(jobs, parallel, threads, report, elsewhere):
        started.extend((job.command(), threads) for job in jobs)
        return {job: 0 for job in jobs}, {}

    monkeypatch.setattr(sweep, "run_jobs", record)
    monkeypatch.setattr("tartan_fw.common.threads.thread_budget", lambda jobs=1: 4 // jobs)
    config = write_config(tmp_path / "mt.json", tiny(aux=(), max_steps=1, eval_every=1))
    result = CliRunner().invoke(cli, ["sweep", str(config), "--seeds", "0-1", "--jobs", "2", "-s", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    assert [threads for _, threads in started] == [2, 2]
    for command, _ in started:
        assert command[command.index("--threads") + 1] == "2"


def test_list_documents_the_top_level_experiment_keys() -> None:
    result = CliRunner().invoke(cli, ["list", "experiment"])
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.startswith("│")}
    assert {"body", "end_task", "aux_tasks", "weighter", "trainer", "seed", "data_root", "include", "init_from",
            "description", "stages"} <= set(rows)
    assert "list of aux_task or null, default None" in rows["aux_tasks"] and "body, required" in rows["body"]
    assert "the task to do well on" in rows["end_task"]
