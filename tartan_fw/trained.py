"""A finished run's end-task model, loaded without its training data: for ``predict`` and ``export``.

A run directory keeps what prediction needs besides the weights: the encoder's architecture and
tokenizer (``model/``, written when training starts) and the label names (``labels.json``).
Rebuilding the body from these, rather than from the experiment's body config, means no corpus
is read (a scratch body would otherwise retrain its tokenizer from the corpora) and no
pretrained checkpoint is downloaded only to be overwritten by the run's own weights.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import torch

from tartan_fw.data.batching import ordered_batches
from tartan_fw.data.tokenization import tokenize_texts
from tartan_fw.errors import TartanError
from tartan_fw.models.bodies.base import Body, TextBody
from tartan_fw.models.heads import ClassificationHead
from tartan_fw.run_directory import BODY_SETTINGS_FILE, LABELS_FILE, RunDirectory, read_run_config


def save_model_files(body: Body, folder: Path) -> None:
    """Write a text body's encoder config and tokenizer into ``folder`` (other bodies: nothing)."""
    if not isinstance(body, TextBody):
        return
    body.encoder.config.save_pretrained(folder)
    body.tokenizer.save_pretrained(folder)
    (folder / BODY_SETTINGS_FILE).write_text(json.dumps({"max_length": body.max_length}) + "\n")


class SavedEncoderBody(TextBody):
    """A run's encoder rebuilt, randomly initialised, from its saved architecture and tokenizer.

    Built the way the training bodies build theirs (a masked-LM model's base model), so the
    parameter names match the checkpoint, which then supplies the weights.
    """

    def __init__(self, folder: Path) -> None:
        from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM, AutoTokenizer

        max_length = json.loads((folder / BODY_SETTINGS_FILE).read_text())["max_length"]
        super().__init__(max_length)
        config = AutoConfig.from_pretrained(folder)
        try:
            model = AutoModelForMaskedLM.from_config(config)
        except ValueError:  # an architecture without a masked-LM class
            model = AutoModel.from_config(config)
        tokenizer = AutoTokenizer.from_pretrained(folder, model_max_length=max_length)
        self._adopt(model, tokenizer, head_pretrained=False)


# Batches predicted together: sorting that many texts by length keeps padding small, as sorting them all would.
PREDICTION_CHUNK = 64


@dataclass
class TrainedModel:
    """The body, the end-task head and the label names of a run's best checkpoint, in eval mode."""

    body: SavedEncoderBody
    head: ClassificationHead
    labels: list[str]
    device: torch.device

    @torch.no_grad()
    def probabilities(self, texts: list[str], batch_size: int, advance: Callable[[int], None] = lambda n: None) -> torch.Tensor:
        """One row of label probabilities per text, in input order; ``advance`` is told each batch's size.

        Texts are tokenised and truncated exactly as in training, and batched in length order so
        padding stays small.
        """
        tokenizer = self.body.tokenizer
        tokenized = tokenize_texts(texts, tokenizer, self.body.max_length)
        rows = torch.empty(len(texts), len(self.labels))
        for batch in ordered_batches(tokenized, batch_size, tokenizer.pad_token_id):
            hidden = self.body(batch["input_ids"].to(self.device), batch["attention_mask"].to(self.device))
            logits = self.head(self.head.features(hidden)).float()
            rows[batch["index"]] = logits.softmax(-1).cpu()
            advance(len(batch["index"]))
        return rows

    def predictions(self, records: Iterable[dict[str, Any]], batch_size: int,
                    advance: Callable[[int], None] = lambda n: None) -> Iterator[dict[str, Any]]:
        """Each record (with its ``text``) plus ``prediction`` and ``probabilities`` (label to probability), in
        input order, read and predicted ``PREDICTION_CHUNK`` batches at a time: memory stays flat however
        long the input, and the first predictions are out before the last records are read."""
        chunk_size = batch_size * PREDICTION_CHUNK
        remaining = iter(records)
        while chunk := list(itertools.islice(remaining, chunk_size)):
            rows = self.probabilities([record["text"] for record in chunk], batch_size, advance).tolist()
            for record, row in zip(chunk, rows):
                best = max(range(len(row)), key=row.__getitem__)
                yield {**record, "prediction": self.labels[best], "probabilities": dict(zip(self.labels, row))}


def load_trained_model(directory: Path, device: torch.device, include: Iterable[str] = ()) -> TrainedModel:
    """The run's best end-task model, from the run directory alone (no data is read)."""
    from tartan_fw.common.files import check_tensors, read_json
    from tartan_fw.common.from_config import Lazy, build
    from tartan_fw.tasks import ClassificationTask, EndTask
    from tartan_fw.training.checkpoint import DAMAGED_BEST, load_end_task_model

    config = read_run_config(directory, include)
    files = RunDirectory(directory)
    end_task = build(Lazy[EndTask], config["end_task"], "end_task")  # its config only: no data is read
    if not issubclass(end_task.cls, ClassificationTask):
        raise TartanError(f"{directory}: the end-task is not text classification; predict and export need one")
    folder = files.model_folder
    if not (folder / BODY_SETTINGS_FILE).exists():
        raise TartanError(
            f"{folder}: missing; the run's body has no Hugging Face encoder and tokenizer, or the run was made "
            f"before runs saved them; retrain it with this version of tartan-fw"
        )
    checkpoint = files.best_model
    if not checkpoint.exists():
        raise TartanError(f"{checkpoint}: no checkpoint; the run did not finish an evaluation")
    check_tensors(checkpoint, DAMAGED_BEST)
    labels = read_json(files.labels, "the run directory is damaged; train the run again")
    if not (isinstance(labels, list) and labels and all(isinstance(label, str) for label in labels)):
        raise TartanError(f"{files.labels}: expected the list of label names; the run directory is "
                          f"damaged; train the run again")
    body = SavedEncoderBody(folder)
    head = (end_task.arguments()["head"] or end_task.cls.default_head()).construct(body=body, num_labels=len(labels))
    if not isinstance(head, ClassificationHead):
        raise TartanError(f"{directory}: end_task.head is not a 'classification' head, the one predict and export support")
    load_end_task_model(body, head, checkpoint)
    body.to(device).eval()
    head.to(device).eval()
    return TrainedModel(body, head, labels, device)


# Where a sequence-classification model of each family keeps the layers of our head (dense, tanh,
# output on the first token): BERT's pooler then classifier, RoBERTa's classification head.
SEQUENCE_CLASSIFIER_LAYERS = {
    "bert": ("bert.pooler.dense", "classifier"),
    "roberta": ("classifier.dense", "classifier.out_proj"),
}


def sequence_classifier(model: TrainedModel) -> Any:
    """The model as the family's ``*ForSequenceClassification`` with ``id2label``, or None where the
    family's head differs from ours (other families, or a head narrower than the body)."""
    from transformers import AutoModelForSequenceClassification

    config = copy.deepcopy(model.body.encoder.config)
    layers = SEQUENCE_CLASSIFIER_LAYERS.get(config.model_type)
    if layers is None or model.head.dense.out_features != config.hidden_size:
        return None
    config.num_labels = len(model.labels)
    config.id2label = dict(enumerate(model.labels))
    config.label2id = {label: i for i, label in enumerate(model.labels)}
    config.architectures = None
    classifier = AutoModelForSequenceClassification.from_config(config)
    missing, unexpected = classifier.base_model.load_state_dict(model.body.encoder.state_dict(), strict=False)
    dense, output = (classifier.get_submodule(name) for name in layers)
    if unexpected or any(not key.startswith("pooler.") for key in missing):
        return None
    dense.load_state_dict(model.head.dense.state_dict())
    output.load_state_dict(model.head.output.state_dict())
    return classifier.eval()


def check_export_target(target: Path) -> None:
    """An empty or new folder that can be made; checked before the model is loaded, and again before writing."""
    from tartan_fw.common.files import check_writable

    if target.exists() and not target.is_dir():
        raise TartanError(f"{target}: is a file; choose a folder to export into")
    if target.exists() and any(target.iterdir()):
        raise TartanError(f"{target}: exists and is not empty; choose another folder")
    check_writable(target)


def export_model(model: TrainedModel, target: Path) -> str:
    """The model in Hugging Face format, plus ``head.safetensors`` and ``labels.json`` (see docs/how-to/export.md);
    returns the class written: a BERT or RoBERTa body becomes ``*ForSequenceClassification``, which
    ``AutoModelForSequenceClassification`` and ``pipeline("text-classification")`` load; other
    bodies are saved as the bare encoder.

    Written into a temporary folder beside ``target`` and renamed, so ``target`` is complete or absent.
    """
    from tartan_fw.common.files import file_mode, folder_mode, storage_errors, tensor_bytes, write_synced

    check_export_target(target)
    with storage_errors(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        with storage_errors(target):
            saved = sequence_classifier(model) or model.body.encoder
            saved.save_pretrained(partial)
            model.body.tokenizer.save_pretrained(partial)
            _portable_tokenizer_config(partial)
            write_synced(partial / "head.safetensors", lambda out: out.write(tensor_bytes(model.head.state_dict())))
            (partial / LABELS_FILE).write_text(json.dumps(model.labels, indent=2) + "\n")
            for written in partial.iterdir():  # safetensors writes 0600 whatever the umask
                os.chmod(written, file_mode())
            os.chmod(partial, folder_mode())
            if target.exists():
                target.rmdir()
            os.replace(partial, target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return type(saved).__name__


def _portable_tokenizer_config(folder: Path) -> None:
    """transformers 5 names a plain fast tokenizer's class ``TokenizersBackend``, which 4.x does not
    know; ``PreTrainedTokenizerFast`` loads the same tokenizer.json in both."""
    path = folder / "tokenizer_config.json"
    config = json.loads(path.read_text())
    if config.get("tokenizer_class") == "TokenizersBackend":
        config["tokenizer_class"] = "PreTrainedTokenizerFast"
        path.write_text(json.dumps(config, indent=2) + "\n")
