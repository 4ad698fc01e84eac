"""Facts about a task's data that decide whether its scores can be trusted: duplicates within a split, dev and
test rows whose text is in train (or in an auxiliary corpus), near-duplicates of train, labels per split,
labels that train never shows, and how many rows the tokenizer cuts at ``max_length``.

Two texts are the same text when they are equal after :func:`normalise` (whitespace folded, lower-cased):
a copy that differs only in spacing or case teaches the model the same thing. Everything is read through
the task's own readers, from the Arrow cache a run reads. Nothing is changed: the report states facts, and
which rows to drop (if any) stays the user's decision.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Optional

from tartan_fw.data.readers import Examples, JsonlClassificationReader, Source, TextLinesReader
from tartan_fw.data.root import DataRoot

if TYPE_CHECKING:
    from tartan_fw.common.from_config import Lazy
    from tartan_fw.models.bodies import Body

EVALUATION_SPLITS = ("dev", "test")
#: Jaccard similarity of character shingles at which two texts count as near-duplicates.
NEAR_THRESHOLD = 0.8
SHINGLE_CHARACTERS = 5
PERMUTATIONS = 128


def normalise(text: str) -> str:
    """The form texts are compared in: runs of whitespace folded to one space, lower-cased."""
    return " ".join(text.split()).lower()


def column(examples: Examples, name: str) -> list[Any]:
    """One column of the cached table as Python values (one pass over the memory-mapped Arrow column)."""
    return examples.dataset.data.column(name).to_pylist()


@dataclass(frozen=True)
class Overlap:
    """A dev or test split against train: the rows (indices into the split) whose text occurs in train, and
    how many of them carry a label train gives that text."""

    rows: int
    in_train: list[int]
    same_label: int

    def unseen(self) -> list[int]:
        """The rows whose text is not in train: the part of the split a model cannot have memorised."""
        seen = set(self.in_train)
        return [row for row in range(self.rows) if row not in seen]

    def to_dict(self) -> dict[str, int]:
        return {"rows": self.rows, "in_train": len(self.in_train), "same_label": self.same_label,
                "unseen": self.rows - len(self.in_train)}


class TrainTexts:
    """Train's normalised texts, each with the labels train gives it, to look other rows up in."""

    def __init__(self, train: Examples) -> None:
        self.labels: dict[str, set[str]] = {}
        for text, label in zip(column(train, "text"), column(train, "label")):
            self.labels.setdefault(normalise(text), set()).add(label)

    def overlap(self, split: Examples) -> Overlap:
        in_train, same_label = [], 0
        for row, (text, label) in enumerate(zip(column(split, "text"), column(split, "label"))):
            labels = self.labels.get(normalise(text))
            if labels is not None:
                in_train.append(row)
                same_label += label in labels
        return Overlap(len(split), in_train, same_label)


def train_overlap(splits: dict[str, Examples]) -> dict[str, Overlap]:
    """Each evaluation split (dev, test) against the whole train split: the check a run makes at start-up,
    one pass over the cached text columns."""
    train = TrainTexts(splits["train"])
    return {split: train.overlap(splits[split]) for split in EVALUATION_SPLITS if split in splits}


def overlap_warning(task: str, overlap: dict[str, Overlap]) -> Optional[str]:
    """One line when dev or test rows have a text that is in train, else None."""
    leaks = [f"{split} {len(o.in_train)} of {o.rows} rows ({len(o.in_train) / o.rows:.0%}; {o.same_label} with "
             f"the same label)" for split, o in overlap.items() if o.in_train]
    if not leaks:
        return None
    return (f"{task}: the text of {' and '.join(leaks)} is in train, so scores on them reward memorising train; "
            f"metrics.json adds dev_unseen and test_unseen, on the other rows (tartan-fw data check tells more)")


class NearDuplicates:
    """Finds the rows whose character shingles overlap some reference text's by Jaccard similarity at least
    ``threshold``: MinHash LSH (``datasketch``) proposes candidates, the exact shingle sets confirm them, so no
    count rests on an estimate. The index looks from 0.9 x ``threshold`` (a MinHash estimate scatters around
    the true similarity, and LSH cannot look from above 0.9 with 128 permutations). Texts are compared
    normalised; exact copies are left to the exact check."""

    def __init__(self, reference: list[str], threshold: float = NEAR_THRESHOLD) -> None:
        from datasketch import MinHashLSH

        self.threshold = threshold
        self.exact = {normalise(text) for text in reference}
        self.shingles = [shingles(text) for text in reference]
        self.index = MinHashLSH(threshold=0.9 * threshold, num_perm=PERMUTATIONS)
        with self.index.insertion_session() as session:
            for row, sketch in enumerate(_sketches(self.shingles)):
                session.insert(row, sketch, check_duplication=False)

    def matches(self, texts: list[str]) -> list[tuple[int, int, float]]:
        """(row, reference row, similarity) for each row of ``texts`` with a near-duplicate that is not an exact
        copy, its most similar reference row."""
        found = []
        candidates = [(row, shingles(text)) for row, text in enumerate(texts) if normalise(text) not in self.exact]
        for (row, own), sketch in zip(candidates, _sketches([s for _, s in candidates])):
            scored = [(_jaccard(own, self.shingles[other]), other) for other in self.index.query(sketch)]
            best = max(scored, default=(0.0, -1))
            if best[0] >= self.threshold:
                found.append((row, best[1], best[0]))
        return found


def shingles(text: str) -> set[bytes]:
    """The normalised text's character 5-grams (a shorter text is its own one shingle)."""
    text = normalise(text)
    size = SHINGLE_CHARACTERS
    return {text[i:i + size].encode() for i in range(max(1, len(text) - size + 1))}


def _sketches(sets: list[set[bytes]]) -> list[Any]:
    from datasketch import LeanMinHash, MinHash

    return [LeanMinHash(m) for m in MinHash.bulk([sorted(s) for s in sets], num_perm=PERMUTATIONS)]


def _jaccard(a: set[bytes], b: set[bytes]) -> float:
    return len(a & b) / len(a | b)


@dataclass(frozen=True)
class CheckTarget:
    """What ``data check`` reads: an end-task's labelled splits and the corpora trained beside it (keyed by
    where they come from), each through its reader, and the body whose tokenizer truncates them (none: the
    truncation column is left out)."""

    name: str
    root: DataRoot
    splits: dict[str, Source]
    corpora: dict[str, Source] = field(default_factory=dict)
    body: Optional["Lazy[Body]"] = None


def task_folder_target(task: str, root: DataRoot) -> CheckTarget:
    """A task folder as ``docs/tutorials/own-data.md`` lays it out: ``{train,dev,test}.jsonl``, its TAPT corpus
    ``train.txt`` (derived when absent) and its DAPT corpus ``domain.1xTAPT.txt`` if there is one."""
    reader = JsonlClassificationReader()
    splits = {split: Source(reader, reader.default_file(split), task, labelled=True)
              for split in ("train", *EVALUATION_SPLITS)}
    corpora = {"TAPT corpus": Source(TextLinesReader(), f"{task}/train.txt")}
    if root.locate(f"{task}/domain.1xTAPT.txt").exists():
        corpora["DAPT corpus"] = Source(TextLinesReader(), f"{task}/domain.1xTAPT.txt")
    return CheckTarget(task, root, splits, corpora)


@dataclass
class Part:
    """One row of the report: a split of the end-task, or a corpus beside it."""

    name: str
    origin: str
    rows: int
    duplicates: int  # rows whose text an earlier row of the same part has
    labels: dict[str, int] = field(default_factory=dict)  # per label, for labelled splits
    overlap: Optional[dict[str, int]] = None  # dev and test: rows whose text is in train (Overlap.to_dict)
    in_train_rows: list[int] = field(default_factory=list)  # their line numbers (row indices where no lines)
    near_train: list[list[Any]] = field(default_factory=list)  # [line, train line, similarity] per near-duplicate
    unseen_labels: list[str] = field(default_factory=list)  # dev and test labels train never has
    holds: dict[str, int] = field(default_factory=dict)  # a corpus: dev and test rows whose text it holds
    truncated: Optional[int] = None  # rows longer than max_length tokens (None: no tokenizer)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DataReport:
    name: str
    parts: list[Part]
    threshold: float
    tokenizer: Optional[str] = None
    max_length: Optional[int] = None

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.name, "near_duplicate_threshold": self.threshold, "tokenizer": self.tokenizer,
                "max_length": self.max_length, "parts": [part.to_dict() for part in self.parts]}


def check(target: CheckTarget, threshold: float = NEAR_THRESHOLD) -> DataReport:
    """Every fact of the report, for ``target``'s splits and corpora (read whole: no subsampling)."""
    splits = {split: source.read(target.root, subsample=False) for split, source in target.splits.items()}
    corpora = {where: source.read(target.root, subsample=False) for where, source in target.corpora.items()}
    overlap = train_overlap(splits)
    near = NearDuplicates(column(splits["train"], "text"), threshold)
    parts = [split_part(split, examples, splits["train"], overlap.get(split), near)
             for split, examples in splits.items()]
    evaluation = {split: splits[split] for split in overlap}
    parts += [corpus_part(where, examples, evaluation) for where, examples in corpora.items()]
    body = target.body.construct(data_root=target.root) if target.body is not None else None
    tokenizer = getattr(body, "tokenizer", None)
    if tokenizer is None:
        return DataReport(target.name, parts, threshold)
    for part, examples in zip(parts, [*splits.values(), *corpora.values()]):
        part.truncated = truncated(column(examples, "text"), tokenizer, body.max_length)
    name = getattr(body, "model_name", None) or f"{type(body).__name__}'s tokenizer"
    return DataReport(target.name, parts, threshold, name, body.max_length)


def _part(name: str, examples: Examples) -> Part:
    texts = column(examples, "text")
    return Part(name, examples.origin, len(texts), len(texts) - len({normalise(text) for text in texts}))


def split_part(name: str, examples: Examples, train: Examples, overlap: Optional[Overlap],
               near: NearDuplicates) -> Part:
    """A split's row: its labels and, for dev and test (given their ``overlap``), what they share with train."""
    part = _part(name, examples)
    part.labels = dict(sorted(Counter(column(examples, "label")).items()))
    if overlap is None:
        return part
    lines, train_lines = column(examples, "line"), column(train, "line")
    part.overlap = overlap.to_dict()
    part.in_train_rows = [lines[row] for row in overlap.in_train]
    part.near_train = [[lines[row], train_lines[other], round(similarity, 3)]
                       for row, other, similarity in near.matches(column(examples, "text"))]
    part.unseen_labels = sorted(set(part.labels) - set(column(train, "label")))
    return part


def corpus_part(name: str, examples: Examples, evaluation: dict[str, Examples]) -> Part:
    """A corpus's row: how many rows of each ``evaluation`` split have a text it holds."""
    part = _part(name, examples)
    held = {normalise(text) for text in column(examples, "text")}
    part.holds = {split: sum(1 for text in column(rows, "text") if normalise(text) in held)
                  for split, rows in evaluation.items()}
    return part


def truncated(texts: list[str], tokenizer: Any, max_length: int, batch: int = 512) -> int:
    """How many texts tokenise (special tokens included, as a run tokenises them) to more than ``max_length``
    tokens: the rows a run cuts short."""
    from tartan_fw.models.bodies.huggingface import quiet_transformers

    count = 0
    with quiet_transformers():  # "sequence length is longer than the maximum": what is being counted
        for start in range(0, len(texts), batch):
            encoded = tokenizer(texts[start:start + batch], truncation=False, return_attention_mask=False,
                                return_token_type_ids=False)["input_ids"]
            count += sum(1 for ids in encoded if len(ids) > max_length)
    return count
