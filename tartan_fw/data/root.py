"""Where task files live, and how missing ones are fetched from the public release."""

from __future__ import annotations

import http.client
import logging
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

from tartan_fw.common.files import atomic_write_text, file_mode, fsync_folder, make_folder
from tartan_fw.errors import DataError

logger = logging.getLogger(__name__)
RELEASE_URL = "https://allennlp.s3-us-west-2.amazonaws.com/dont_stop_pretraining/data"
TASKS = ("chemprot", "citation_intent", "sciie", "hyperpartisan")
SPLITS = ("train", "dev", "test")


def default_data_root() -> Path:
    """``$TARTAN_DATA`` when set, else a cache folder in the user's home."""
    if os.environ.get("TARTAN_DATA"):
        return Path(os.environ["TARTAN_DATA"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tartan_fw" / "data"


def release_url() -> str:
    return os.environ.get("TARTAN_DATA_URL", RELEASE_URL).rstrip("/")


class DataRoot:
    """Resolves ``<task>/<file>`` paths and fetches the release's files when they are missing."""

    def __init__(self, root: Optional[str | Path] = None, fetch_missing: bool = True) -> None:
        self.path = Path(root).expanduser() if root else default_data_root()
        self.fetch_missing = fetch_missing

    def file(self, relative: str, folder: bool = False) -> Path:
        """The path of ``relative`` (or an absolute path), fetched from the release or derived if it is missing;
        ``folder``: what is read there is a folder (a saved dataset), not a file."""
        path, step = self.locate(relative), self.plan(relative)
        if step == PRESENT and (problem := kind_problem(path, folder)):
            raise DataError(problem)
        if step == DOWNLOAD:
            fetch_task(Path(relative).parts[0], self.path)
        elif step == DERIVE:
            derive_corpus(path)
        elif step == MISSING:
            raise DataError(missing_message(path, relative))
        return path

    def problem(self, relative: str, folder: bool = False) -> Optional[str]:
        """Why ``relative`` cannot be had (None: it exists as a file, or a ``folder``, is derived from train.jsonl,
        or is fetched)."""
        path, step = self.locate(relative), self.plan(relative)
        if step == PRESENT:
            return kind_problem(path, folder)
        return missing_message(path, relative) if step == MISSING else None

    def locate(self, relative: str) -> Path:
        path = Path(relative).expanduser()
        return path if path.is_absolute() else self.path / relative

    def plan(self, relative: str) -> str:
        """What :meth:`file` does to have ``relative``: ``PRESENT``, ``DOWNLOAD`` (a file of the public release,
        with the rest of its task), ``DERIVE`` (train.txt from train.jsonl) or nothing it can (``MISSING``)."""
        path = self.locate(relative)
        if path.exists():
            return PRESENT
        if self.fetch_missing and fetchable(relative):
            return DOWNLOAD
        return DERIVE if derivable(path) else MISSING


PRESENT, DOWNLOAD, DERIVE, MISSING = "present", "download", "derive", "missing"


def derivable(path: Path) -> bool:
    """A task's ``train.txt`` (its TAPT corpus) is derived from its ``train.jsonl`` when absent."""
    return path.name == "train.txt" and (path.parent / "train.jsonl").is_file()


def derive_corpus(corpus: Path) -> None:
    """``train.txt`` from the texts of ``train.jsonl``: one per line, newlines and runs of spaces folded."""
    from tartan_fw.data.readers import JsonlClassificationReader

    source = corpus.parent / "train.jsonl"
    texts = list(JsonlClassificationReader().read(DataRoot(source.parent, fetch_missing=False), source.name).dataset["text"])
    folded = sum(1 for text in texts if "\n" in text or "\r" in text)
    atomic_write_text(corpus, "".join(" ".join(text.split()) + "\n" for text in texts))
    logger.info("%s: derived from %s (the TAPT corpus: %d texts, one per line; %d had newlines, folded to spaces)",
                corpus, source.name, len(texts), folded)


def fetchable(relative: str) -> bool:
    parts = Path(relative).parts
    return len(parts) == 2 and parts[0] in TASKS and parts[1] in {f"{s}.jsonl" for s in SPLITS} | {"train.txt"}


def kind_problem(path: Path, folder: bool) -> Optional[str]:
    """A folder where a file is read fails deep in the reader (IsADirectoryError); ``validate`` says so first.
    (A file where a saved dataset's folder is read is the ``saved`` reader's own error.)"""
    if folder or not path.is_dir():
        return None
    return f"{path}: a folder, where a data file is read; put the file in its place, or name the file in the config"


def missing_message(path: Path, relative: str) -> str:
    task = Path(relative).parts[0]
    if Path(relative).expanduser().is_absolute():
        return f"{path}: data file not found; fix the absolute path in the config, or give it relative to the data root (TARTAN_DATA)"
    if fetchable(relative):
        how = f"run 'tartan-fw data fetch {task}' where there is internet, or set TARTAN_DATA to a folder holding {relative}"
    elif path.name == "train.txt":
        how = f"it is derived from {path.parent / 'train.jsonl'}, which is missing too: put the task's files there"
    else:
        how = f"this file is not in the public release: place it at {path} or set TARTAN_DATA to a folder holding {relative}"
    return f"{path}: data file not found; {how}"


def fetch_task(task: str, root: Path) -> list[Path]:
    """Download a task's splits into ``root/task`` and derive ``train.txt`` (its TAPT corpus)."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    if task not in TASKS:
        raise DataError(f"unknown task '{task}'; the release has: {', '.join(TASKS)}")
    target = root / task
    created = not target.exists()
    make_folder(target)
    written = []
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    try:
        console = Console(stderr=True)  # stdout lists the files; the bar only where it redraws, a terminal
        with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
            for split in SPLITS:
                destination = target / f"{split}.jsonl"
                if not destination.exists():
                    _download(f"{release_url()}/{task}/{split}.jsonl", destination, progress)
                written.append(destination)
    except BaseException:
        if created and not any(target.iterdir()):
            target.rmdir()  # a failed fetch leaves no empty task folder to be mistaken for data
        raise
    corpus = target / "train.txt"
    if not corpus.exists():
        derive_corpus(corpus)
    written.append(corpus)
    return written


def _download(url: str, destination: Path, progress) -> None:
    """Into a hidden file beside ``destination``, renamed only once every promised byte arrived."""
    job = progress.add_task(f"{destination.parent.name}/{destination.name}", total=None)
    handle, partial = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.")
    elsewhere = f"copy the task's files to {destination.parent} or point TARTAN_DATA at a folder that has them"
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=30) as response:
            expected = int(response.headers.get("Content-Length") or 0) or None
            progress.update(job, total=expected)
            received = 0
            while chunk := response.read(1 << 16):
                out.write(chunk)
                received += len(chunk)
                progress.advance(job, len(chunk))
            if expected is not None and received != expected:
                raise DataError(f"cannot download {url} (got {received} of {expected} bytes); try again, or {elsewhere}")
            out.flush()
            os.fsync(out.fileno())
        os.chmod(partial, file_mode())
        os.replace(partial, destination)
        fsync_folder(destination.parent)
    except urllib.error.HTTPError as err:
        raise DataError(f"cannot download {url} (HTTP {err.code} {err.reason}); check TARTAN_DATA_URL, or {elsewhere}") from err
    except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
        raise DataError(f"cannot download {url} ({getattr(err, 'reason', err)}); offline? {elsewhere}") from err
    finally:
        Path(partial).unlink(missing_ok=True)
