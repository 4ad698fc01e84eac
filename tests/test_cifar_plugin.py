"""The CIFAR-100 plugin (plugins/cifar) on small synthetic data in the release's pickle format."""

from __future__ import annotations

import json
import os
from contextlib import nullcontext
import pickle
from pathlib import Path

import numpy
import pytest
import torch
from click.testing import CliRunner

from tartan_fw.cli.main import cli
from tartan_fw.data.root import DataRoot
from tartan_fw.errors import DataError

from conftest import REPO, load_shipped_plugins

load_shipped_plugins()

from plugins.cifar import data as cifar_data  # noqa: E402
from plugins.cifar.other_classes import OtherClassesTask  # noqa: E402
from plugins.cifar.superclass import SuperclassTask  # noqa: E402
from plugins.cifar.transforms import normalise, random_crop, random_flip  # noqa: E402

MAMMALS = {34: "fox", 63: "porcupine", 64: "possum", 66: "raccoon", 75: "skunk"}  # superclass 12


def coarse_of(fine: int) -> int:
    """Superclass 12 holds the real medium-sized mammals; the other 95 classes fill the other 19, five each."""
    if fine in MAMMALS:
        return 12
    others = [c for c in range(20) if c != 12]
    return others[sorted(set(range(100)) - set(MAMMALS)).index(fine) // 5]


def write_release(root: Path, per_class: tuple[int, int] = (4, 2), seed: int = 0) -> Path:
    """A CIFAR-100 python release with ``per_class`` train/test images of each class (bytes keys, as
    the real files load); each class has its own mean colour so it can be learnt."""
    rng = numpy.random.default_rng(seed)
    folder = root / "cifar100" / "cifar-100-python"
    folder.mkdir(parents=True)
    for split, count in zip(("train", "test"), per_class):
        fine = [c for c in range(100) for _ in range(count)]
        colours = numpy.array([[(c * 37) % 256, (c * 91) % 256, (c * 53) % 256] for c in fine], dtype=numpy.int16)
        noise = rng.integers(-20, 21, size=(len(fine), 3, 1024))
        pixels = numpy.clip(colours[:, :, None] + noise, 0, 255).astype(numpy.uint8).reshape(len(fine), 3072)
        content = {b"data": pixels, b"fine_labels": fine, b"coarse_labels": [coarse_of(c) for c in fine],
                   b"filenames": [f"{i}.png".encode() for i in range(len(fine))], b"batch_label": split.encode()}
        (folder / split).write_bytes(pickle.dumps(content, protocol=2))
    meta = {b"fine_label_names": [MAMMALS.get(c, f"class{c}").encode() for c in range(100)],
            b"coarse_label_names": [b"medium_mammals" if c == 12 else f"super{c}".encode() for c in range(20)]}
    (folder / "meta").write_bytes(pickle.dumps(meta, protocol=2))
    return root


@pytest.fixture
def cifar_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = write_release(tmp_path / "data")
    monkeypatch.setenv("TARTAN_DATA", str(root))
    cifar_data._load.cache_clear()
    return root


def test_superclass_end_task_and_other_classes_aux_task(cifar_root: Path) -> None:
    from plugins.cifar.body import SmallCnnBody

    body = SmallCnnBody(DataRoot(cifar_root), channels=[8, 8, 16])
    end = SuperclassTask(body, DataRoot(cifar_root), 0, dev_fraction=0.25, batch_size=6)
    assert end.labels == ["fox", "porcupine", "possum", "raccoon", "skunk"]
    assert [end.split_size(s) for s in ("train", "dev", "test")] == [15, 5, 10]
    assert sorted(end.targets["test"].tolist()) == sorted(list(range(5)) * 2)
    cifar = cifar_data.load_cifar100(cifar_root / "cifar100")
    mammals = cifar.train.images[cifar.train.coarse == 12]
    train_dev = torch.cat([end.images["train"], end.images["dev"]])
    assert sorted(map(bytes, train_dev.flatten(1).numpy())) == sorted(map(bytes, mammals.flatten(1).numpy()))

    again = SuperclassTask(body, DataRoot(cifar_root), seed=7, dev_fraction=0.25)  # another seed: the same dev holdout
    assert torch.equal(again.images["dev"], end.images["dev"])

    aux = OtherClassesTask(body, DataRoot(cifar_root), 0, batch_size=5)
    assert aux.head.output.out_features == 95 and len(aux.targets["train"]) == 95 * 4
    assert set(aux.targets["train"].tolist()) == set(range(95))
    assert not any(bool((image == mammals).flatten(1).all(1).any()) for image in aux.images["train"])

    batch = end.next_batch()
    assert batch["images"].shape == (6, 3, 32, 32) and batch["images"].dtype == torch.float32
    hidden = end.encode(body, batch)
    assert hidden.shape == (6, 1, 16)
    output = end.loss(body, batch)
    output.total.backward()
    assert output.features.shape == (6, 16) and torch.isfinite(output.total)
    predicted, gold = end.predict(body, "test", torch.device("cpu"), nullcontext)
    assert predicted.shape == gold.shape == (10,)


def test_transforms() -> None:
    generator = torch.Generator().manual_seed(0)
    images = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8) + 1
    cropped = random_crop(images, 2, generator)
    assert cropped.shape == images.shape
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2))
    for image, crop in zip(padded, cropped):
        windows = [(top, left) for top in range(5) for left in range(5)
                   if torch.equal(image[:, top:top + 8, left:left + 8], crop)]
        assert len(windows) == 1
    flipped = random_flip(images.repeat(50, 1, 1, 1), generator)
    mirrored = [torch.equal(f, i.flip(-1)) for f, i in zip(flipped, images.repeat(50, 1, 1, 1))]
    assert 30 < sum(mirrored) < 70
    uniform = torch.rand(4000, 3, 2, 2, generator=generator)
    shifted = normalise(uniform).mean(dim=(0, 2, 3))
    assert torch.allclose(shifted, (0.5 - torch.tensor([0.5071, 0.4865, 0.4409])) / torch.tensor([0.2673, 0.2564, 0.2762]),
                          atol=0.05)


def test_a_pickle_naming_anything_but_arrays_is_refused(cifar_root: Path) -> None:
    release = cifar_root / "cifar100" / "cifar-100-python"
    (release / "meta").write_bytes(pickle.dumps({b"fine_label_names": os.getcwd}, protocol=2))
    with pytest.raises(DataError, match="not a CIFAR-100 python pickle .*posix.getcwd is not an array type"):
        cifar_data.load_cifar100(cifar_root / "cifar100")


def test_offline_download_is_a_clear_error_and_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cifar_data, "URL", "http://127.0.0.1:9/cifar-100-python.tar.gz")
    with pytest.raises(DataError, match=r"cannot download CIFAR-100 .*offline\? .*cifar-100-python/train exists"):
        cifar_data.load_cifar100(tmp_path / "cifar100")
    assert list((tmp_path / "cifar100").iterdir()) == []


@pytest.mark.parametrize("config", ["cifar100_mt.jsonnet", "cifar100_meta.jsonnet"])
def test_a_few_steps_through_the_cli(config: str, cifar_root: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(REPO)
    small = ["-o", "trainer.max_steps=3", "-o", "trainer.eval_every=3", "-o", "body.channels=[8,8,16]",
             "-o", "end_task.batch_size=8", "-o", "aux_tasks.0.batch_size=8", "-o", "trainer.log_every=1"]
    if "meta" in config:
        small += ["-o", "weighter.meta_batch_size=1", "-o", "weighter.dev_batch_size=1"]  # the test data has 2 dev images
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", f"experiments/{config}", "-s", str(out), "--device", "cpu", "--quiet",
                                      *small])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["metric"] == "accuracy" and metrics["steps"] == 3
    assert metrics["tokens"] == {"multitask/superclass": 24, "multitask/other_classes": 24}  # images
    evaluated = CliRunner().invoke(cli, ["evaluate", str(out), "--device", "cpu"])
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.output)["accuracy"] == metrics["test"]["accuracy"]


def test_the_cnn_body_is_a_body_and_a_text_task_on_it_is_a_configuration_error(cifar_root: Path) -> None:
    from plugins.cifar.body import SmallCnnBody
    from tartan_fw.errors import ConfigurationError
    from tartan_fw.models.bodies import Body
    from tartan_fw.tasks import MaskedLMTask

    body = SmallCnnBody(DataRoot(cifar_root), channels=[8, 8, 16])
    assert isinstance(body, Body) and body.hidden_size == 16
    assert body.lm_head() is None and not body.load_lm_head_state({})
    with pytest.raises(ConfigurationError, match=r"aux_tasks\.tapt: the task reads text and needs a text body .*"
                                                 r"body 'cifar_cnn' has none"):
        MaskedLMTask(body, DataRoot(cifar_root), 0, name="tapt", corpus="cifar100/train.txt")
