"""CIFAR-100 (Krizhevsky, 2009) from its standard python-pickle release, fetched on first use."""

from __future__ import annotations

import functools
import logging
import pickle
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from tartan_fw.errors import DataError

URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
RELEASE = "cifar-100-python"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Split:
    images: torch.Tensor  # uint8, (N, 3, 32, 32)
    fine: torch.Tensor  # fine label per image (0-99)
    coarse: torch.Tensor  # superclass per image (0-19)


@dataclass(frozen=True)
class Cifar100:
    train: Split
    test: Split
    fine_names: list[str]
    coarse_names: list[str]


class _ArraysOnly(pickle.Unpickler):
    """Rebuilds dicts, lists, strings and numpy arrays, nothing else: a pickle from the internet can
    otherwise run any code it names."""

    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")} | {
        (f"numpy.{core}.{module}", name) for core in ("core", "_core")
        for module, name in (("multiarray", "_reconstruct"), ("multiarray", "scalar"), ("numeric", "_frombuffer"))
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not an array type")
        import numpy

        if module.startswith("numpy.core.") and hasattr(numpy, "_core"):
            module = module.replace("numpy.core.", "numpy._core.", 1)
        return super().find_class(module, name)


def _unpickle(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise DataError(f"{path}: missing from the CIFAR-100 release; delete {path.parent} to fetch it again")
    try:
        with path.open("rb") as handle:
            content = _ArraysOnly(handle, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError) as err:
        raise DataError(f"{path}: not a CIFAR-100 python pickle ({err}); delete {path.parent} to fetch it again") from err
    return {key.decode() if isinstance(key, bytes) else key: value for key, value in content.items()}


def _names(values: list) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else v for v in values]


def _split(path: Path) -> Split:
    content = _unpickle(path)
    images = torch.from_numpy(content["data"]).reshape(-1, 3, 32, 32)
    return Split(images, torch.tensor(content["fine_labels"]), torch.tensor(content["coarse_labels"]))


@functools.lru_cache(maxsize=1)
def _load(release: Path) -> Cifar100:
    meta = _unpickle(release / "meta")
    return Cifar100(_split(release / "train"), _split(release / "test"), _names(meta["fine_label_names"]),
                    _names(meta["coarse_label_names"]))


def load_cifar100(folder: Path) -> Cifar100:
    """The release under ``folder/cifar-100-python`` (downloaded there when missing); cached, so
    tasks sharing it share the arrays."""
    release = folder / RELEASE
    if not release.exists():
        fetch(folder)
    return _load(release.resolve())


def fetch(folder: Path) -> None:
    """Download and unpack the release into ``folder``; the unpacked folder appears whole or not at all."""
    folder.mkdir(parents=True, exist_ok=True)
    logger.info("downloading CIFAR-100 (about 170 MB) from %s", URL)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".cifar-100.") as partial:
        archive = Path(partial) / "cifar-100-python.tar.gz"
        try:
            urllib.request.urlretrieve(URL, archive)
            with tarfile.open(archive) as tar:
                tar.extractall(partial, filter="data")
        except (urllib.error.URLError, OSError, tarfile.TarError) as err:
            raise DataError(
                f"cannot download CIFAR-100 from {URL} ({getattr(err, 'reason', err)}); offline? fetch and unpack it "
                f"where there is internet so that {folder / RELEASE}/train exists, or point TARTAN_DATA at a data "
                f"root that has it"
            ) from err
        shutil.move(str(Path(partial) / RELEASE), str(folder / RELEASE))
