"""Next sentence prediction (Devlin et al., 2019) as an auxiliary task.

The paper's conclusion asks whether META-TARTAN can make use of objectives that pre-training
discarded, NSP first among them; this task lets an experiment add it beside TAPT and DAPT.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any, Optional

import torch

from tartan_fw.common.from_config import Lazy
from tartan_fw.data.root import DataRoot
from tartan_fw.data.tokenization import TokenizedTexts
from tartan_fw.errors import DataError
from tartan_fw.models.bodies import Body, text_body
from tartan_fw.models.heads import ClassificationHead, Head
from tartan_fw.tasks.base import AuxTask
from tartan_fw.tasks.labelled_texts import LabelledTextsTask

# A sentence ends at . ! or ? followed by space and a capital letter, quote or bracket, so that
# "et al. 2005" and "Fig. 1C" stay inside their sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(\[])")


@dataclass(frozen=True)
class SentencePair:
    first: str
    second: str
    label: int  # 1: ``second`` follows ``first`` in its document; 0: it comes from elsewhere


def documents(texts: list[str], lines: list[int], split_sentences: bool) -> list[list[str]]:
    """Sentences grouped by document: a document is a run of consecutive non-blank lines.

    The reader drops blank lines, so a gap in line numbers is a blank line (or a line the
    reader's subsample left out): either way, the lines on both sides are not consecutive text.
    """
    grouped: list[list[str]] = []
    previous = None
    for text, line in zip(texts, lines):
        if previous is None or line != previous + 1:
            grouped.append([])
        grouped[-1].extend(_SENTENCE_END.split(text) if split_sentences else [text])
        previous = line
    return grouped


def sentence_pairs(grouped: list[list[str]], rng: random.Random) -> list[SentencePair]:
    """Every consecutive pair of sentences within a document, once with its true successor
    (label 1) and once with a random sentence from another document (label 0).

    Both examples share the first sentence, so the labels are exactly balanced and the first
    sentence alone says nothing about the label. When the corpus is a single document, the
    random sentence is any but the first sentence and its successor.
    """
    sentences = [(d, s) for d, sentences in enumerate(grouped) for s in sentences]
    starts = [0]
    for document in grouped:
        starts.append(starts[-1] + len(document))
    single = len(grouped) == 1
    pairs = []
    for d, document in enumerate(grouped):
        for i in range(len(document) - 1):
            here = starts[d] + i
            while True:
                k = rng.randrange(len(sentences))
                if (single and k not in (here, here + 1)) or (not single and sentences[k][0] != d):
                    break
            pairs.append(SentencePair(document[i], document[i + 1], 1))
            pairs.append(SentencePair(document[i], sentences[k][1], 0))
    return pairs


@AuxTask.register("nsp")
class NextSentenceTask(LabelledTextsTask):
    """Next sentence prediction: does the second segment follow the first in the corpus?

    Pairs come from a line-by-line corpus (the TAPT/DAPT files), built once when the task is built,
    from the seed. A blank line marks a document boundary and no positive pair crosses one. With
    ``split_sentences`` (the default) each line is split into sentences on sentence punctuation,
    so a paragraph-per-line corpus (the DAPT files) gives pairs within paragraphs and across
    consecutive lines; without it, each line is one sentence (corpora of one sentence per line).
    Every consecutive pair gives one positive and one negative example (see
    :func:`sentence_pairs`). The pair is encoded as the tokenizer's sentence pair and truncated
    longest-first to the body's ``max_length``; the head reads the first token.

    Args:
        corpus: the text file, relative to the data root (one with documents separated by blank
            lines, such as ``chemprot/domain.1xTAPT.txt``, gives the most meaningful pairs).
        head: the 2-way classification head (default: the paper's MLP on the first token).
        batch_size: pairs per step.
        split_sentences: split lines into sentences (else each line is one sentence).
    """

    def __init__(
        self,
        body: Body,
        data_root: DataRoot,
        seed: int,
        head: Optional[Lazy[Head]] = None,
        split_sentences: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.head_config = head or Lazy(ClassificationHead, {}, f"aux_tasks.{self.name}.head")
        self.split_sentences = split_sentences
        text = text_body(body, f"aux_tasks.{self.name}")
        examples = self.read_examples(data_root)
        grouped = documents(examples.dataset["text"], examples.dataset["line"], self.split_sentences)
        if sum(len(d) for d in grouped) < 3 or all(len(d) < 2 for d in grouped):
            raise DataError(
                f"{examples.origin}: next sentence prediction needs a document of at least two sentences and a third "
                f"sentence to draw negatives from; use a larger corpus (or split_sentences: true)"
            )
        pairs = sentence_pairs(grouped, random.Random(self.task_seed(seed)))
        encoded = text.tokenizer(
            [p.first for p in pairs], [p.second for p in pairs], truncation="longest_first", max_length=text.max_length
        )["input_ids"]
        self.texts = TokenizedTexts.from_lists(encoded)
        self.targets = torch.tensor([p.label for p in pairs])
        self.pad_id = text.tokenizer.pad_token_id
        self.head = self.head_config.construct(body=body, num_labels=2)
        self.start_stream(len(self.texts), seed)
