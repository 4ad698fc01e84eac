"""Pipelines: experiments run one after another in one run directory, each continuing the last one's body.

The paper's baselines are pipelines: TAPT is masked-LM pretraining on the task's text then
fine-tuning, DAPT+TAPT chains two pretraining stages before it. A pipeline config is::

    {
      body: {...}, seed: 0,               // any experiment key here is shared by every stage
      stages: [
        {name: 'tapt', end_task: {...}, aux_tasks: [...], trainer: {type: 'pretrain', ...}},
        {name: 'finetune', end_task: {...}, trainer: {type: 'tartan', ...}},
      ],
    }

Stage ``<name>`` runs into ``<run dir>/<name>/``; every stage after the first starts from the
body the previous stage saved (its ``init_from`` is set here). The pipeline's ``metrics.json``
is the last stage's, with each stage's summary under ``pipeline`` and the compute of all stages
added up under ``compute``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any, Optional

import torch

from tartan_fw.common.config import deep_merge
from tartan_fw.common.from_config import build, validate
from tartan_fw.data.check import CheckTarget
from tartan_fw.data.prepare import DataNeed
from tartan_fw.data.readers import Source
from tartan_fw.data.root import DataRoot
from tartan_fw.errors import ConfigurationError
from tartan_fw.experiment import Experiment
from tartan_fw.run_directory import RunDirectory
from tartan_fw.run_lifecycle import RunLifecycle
from tartan_fw.runner import run_experiment
from tartan_fw.training.compute import total_compute
from tartan_fw.training.distributed import data_parallel
from tartan_fw.training.results import RunMetrics, StageSummary

STAGE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
PIPELINE_KEYS = ("stages", "description")


def is_pipeline(config: dict[str, Any]) -> bool:
    return "stages" in config


def stage_configs(config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(name, experiment config) per stage: the shared top-level keys with the stage's own on top."""
    stages = config["stages"]
    if not isinstance(stages, list) or not stages:
        raise ConfigurationError(["stages: expected a non-empty list of stage objects"])
    shared = {key: value for key, value in config.items() if key not in PIPELINE_KEYS}
    problems, result, seen = [], [], set()
    for index, stage in enumerate(stages):
        where = f"stages[{index}]"
        if not isinstance(stage, dict):
            problems.append(f"{where}: expected an object with a 'name' and experiment keys, got {stage!r}")
            continue
        name = stage.get("name")
        if not isinstance(name, str) or not STAGE_NAME.match(name):
            problems.append(f"{where}.name: give each stage a name of letters, digits, '_', '-' or '.' (got {name!r})")
        elif name in seen:
            problems.append(f"{where}.name: '{name}' names an earlier stage too; stage names must be unique")
        seen.add(name)
        if index > 0 and "init_from" in stage:
            problems.append(f"{where}.init_from: set by the pipeline (the previous stage's body); remove it")
        own = {key: value for key, value in stage.items() if key != "name"}
        result.append((str(name), deep_merge(shared, own)))
    if problems:
        raise ConfigurationError(problems)
    return result


def validate_config(config: dict[str, Any]) -> list[str]:
    """Every problem of an experiment or pipeline config, without building anything."""
    if not is_pipeline(config):
        return validate(Experiment, config)
    try:
        stages = stage_configs(config)
    except ConfigurationError as err:
        return err.problems
    # Later stages get init_from at run time; a placeholder keeps validation of the rest honest.
    return [
        problem
        for index, (_, stage) in enumerate(stages)
        for problem in validate(Experiment, {**stage, "init_from": "<previous stage>"} if index else stage,
                                f"stages[{index}]")
    ]


def data_needs(config: dict[str, Any]) -> list[DataNeed]:
    """Everything a valid config reads, per stage: the body's files, then each task's sources."""
    stages = stage_configs(config) if is_pipeline(config) else [("", config)]
    needs = []
    for index, (_, stage) in enumerate(stages):
        where = f"stages[{index}]." if is_pipeline(config) else ""
        experiment = build(Experiment, stage)
        root = DataRoot(experiment.data_root)
        needs += [DataNeed(f"{where}body", root, file=name)
                  for name in experiment.body.cls.data_files(experiment.body.arguments())]
        tasks = [("end_task", experiment.end_task)]
        tasks += [(f"aux_tasks[{i}] ({name})", task)
                  for i, (task, name) in enumerate(zip(experiment.aux_tasks, experiment.task_names[1:]))]
        # bodies and tasks name what they read from their config's values, before anything is built
        needs += [DataNeed(f"{where}{component}", root, source) for component, lazy in tasks
                  for source in lazy.cls.sources(lazy.arguments())]
    return needs


def check_targets(config: dict[str, Any]) -> list[CheckTarget]:
    """What ``data check`` reads for a valid config: each distinct end-task's splits with the corpora of the
    auxiliary tasks of its stages, and the body that tokenises them (a pipeline's stages share their end-task)."""
    stages = stage_configs(config) if is_pipeline(config) else [("", config)]
    targets: dict[tuple, CheckTarget] = {}
    for index, (_, stage) in enumerate(stages):
        where = f"stages[{index}]." if is_pipeline(config) else ""
        experiment = build(Experiment, stage)
        root = DataRoot(experiment.data_root)
        splits = experiment.end_task.cls.split_sources(experiment.end_task.arguments())
        if not splits:
            raise ConfigurationError([f"{where}end_task: {experiment.end_task.cls.__name__} names no labelled train, "
                                      f"dev and test splits (split_sources), so its data cannot be checked"])
        key = tuple((split, _source_key(source)) for split, source in sorted(splits.items()))
        target = targets.setdefault(key, CheckTarget(experiment.task_names[0], root, splits, body=experiment.body))
        read = {_source_key(source) for source in target.corpora.values()}
        for i, (task, name) in enumerate(zip(experiment.aux_tasks, experiment.task_names[1:])):
            for source in task.cls.sources(task.arguments()):
                if _source_key(source) not in read:
                    target.corpora[f"{where}aux_tasks[{i}] ({name})"] = source
                    read.add(_source_key(source))
    return list(targets.values())


def _source_key(source: Source) -> tuple:
    """Two sources with one key read the same thing the same way."""
    return repr(source.reader.settings()), source.folder, source.name, source.labelled


def data_problems(config: dict[str, Any]) -> list[str]:
    """Every data file a valid config needs that neither exists nor can be derived or fetched."""
    return [f"{need.where}: {problem}" for need in data_needs(config) for name in need.files()
            if (problem := need.root.problem(name, need.reads_folders)) is not None]


def run_config(
    config: dict[str, Any],
    directory: Path,
    device: torch.device,
    force: bool = False,
    show_progress: bool = True,
    ext_vars: Optional[dict[str, str]] = None,
    resume: bool = False,
) -> RunMetrics:
    """Run an experiment or a pipeline config into ``directory``; returns its metrics.

    ``resume`` continues an unfinished run: a pipeline keeps its finished stages and resumes the
    one that was interrupted.
    """
    if not is_pipeline(config):
        return run_experiment(config, directory, device, force, show_progress, ext_vars, resume)
    stages = stage_configs(config)
    problems = validate_config(config)
    if problems:
        raise ConfigurationError(problems)
    lifecycle = RunLifecycle(directory, config, force, resume, ext_vars)
    lifecycle.check()
    with data_parallel(device) as parallel:
        if parallel.is_main:
            lifecycle.claim(parallel.device)
        parallel.barrier()
        files = RunDirectory(directory)
        summaries: list[StageSummary] = []
        previous: Optional[Path] = None
        for name, stage in stages:
            if previous is not None:
                stage = {**stage, "init_from": str(previous.resolve())}
            stage_files = files.stage(name)
            if resume and stage_files.is_finished():
                metrics = RunMetrics.from_dict(json.loads(stage_files.metrics.read_text()))
            else:
                started = resume and stage_files.is_started()
                metrics = run_experiment(stage, stage_files.root, device, False, show_progress, ext_vars, started)
            summaries.append(metrics.summary(name))
            previous = stage_files.root
        result = dataclasses.replace(metrics, pipeline=summaries, compute=total_compute([s.compute for s in summaries]))
        if parallel.is_main:
            lifecycle.finish(result)
    return result
