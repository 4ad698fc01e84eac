from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, List, Mapping

from tartan_fw.common.cache import cache_dir, content_digest, rebuilding
from tartan_fw.common.constraints import DropoutRate, MaxLength, NonEmpty, PositiveInt
from tartan_fw.errors import DataError
from tartan_fw.data.root import DataRoot
from tartan_fw.models.bodies.base import Body, TextBody

if TYPE_CHECKING:
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = {"unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "mask_token": "[MASK]"}
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]  # the same tokens as ids 0-4, in BERT's order


@Body.register("scratch")
class ScratchBody(TextBody):
    """A small randomly initialised BERT, with a WordPiece tokenizer trained on the given corpora.

    Needs no download, so it serves CPU experiments and tests. The tokenizer is cached by the
    corpora's content and vocabulary size, so reruns reuse it.

    Args:
        tokenizer_corpora: text files (relative to the data root) the tokenizer is trained on.
        vocab_size: WordPiece vocabulary size.
        hidden_size, num_layers, num_heads, intermediate_size: the encoder's shape.
        dropout: hidden and attention dropout.
        max_length: texts are truncated to this many tokens.
    """

    def __init__(
        self,
        data_root: DataRoot,
        tokenizer_corpora: Annotated[List[str], NonEmpty],
        vocab_size: PositiveInt = 8000,
        hidden_size: PositiveInt = 128,
        num_layers: PositiveInt = 2,
        num_heads: PositiveInt = 2,
        intermediate_size: PositiveInt = 512,
        dropout: DropoutRate = 0.1,
        max_length: MaxLength = 128,
    ) -> None:
        from transformers import BertConfig, BertForMaskedLM

        super().__init__(max_length)
        corpora = [data_root.file(name) for name in tokenizer_corpora]
        tokenizer = wordpiece_tokenizer(corpora, vocab_size)
        config = BertConfig(
            vocab_size=len(tokenizer),
            hidden_size=hidden_size,
            num_hidden_layers=num_layers,
            num_attention_heads=num_heads,
            intermediate_size=intermediate_size,
            hidden_dropout_prob=dropout,
            attention_probs_dropout_prob=dropout,
            max_position_embeddings=max(512, max_length),
            pad_token_id=tokenizer.pad_token_id,
        )
        self._adopt(BertForMaskedLM(config), tokenizer, head_pretrained=False)

    @classmethod
    def argument_problems(cls, arguments: Mapping[str, Any]) -> dict[str, str]:
        hidden_size, num_heads = arguments["hidden_size"], arguments["num_heads"]
        if hidden_size % num_heads:
            return {"num_heads": f"must divide hidden_size ({hidden_size}), got {num_heads}"}
        return {}

    @classmethod
    def data_files(cls, arguments: Mapping[str, Any]) -> list[str]:
        return list(arguments["tokenizer_corpora"])


# Part of the tokenizer cache key: bump it when training starts producing a different file for the same
# corpora, so no cache hands out the old one. 2: ids no longer follow the trainer's hash order.
TRAINING_VERSION = 2


def wordpiece_tokenizer(corpora: list[Path], vocab_size: int) -> "PreTrainedTokenizerFast":
    """The WordPiece tokenizer trained on ``corpora``, from the cache when it holds one for their content
    (a corrupt cached file is retrained, with one line saying so)."""
    from transformers import PreTrainedTokenizerFast

    digest = hashlib.sha256(f"{vocab_size}:v{TRAINING_VERSION}".encode())
    for path in corpora:
        digest.update(content_digest(path).encode())
    location = cache_dir() / "tokenizers" / digest.hexdigest()[:24] / "tokenizer.json"
    if location.exists():
        try:
            return PreTrainedTokenizerFast(tokenizer_file=str(location), **SPECIAL_TOKENS)
        except Exception as err:  # noqa: BLE001 - the tokenizers library raises plain Exception
            rebuilding(location, err)
    _train_wordpiece(corpora, vocab_size, location)
    return PreTrainedTokenizerFast(tokenizer_file=str(location), **SPECIAL_TOKENS)


def _train_wordpiece(corpora: list[Path], vocab_size: int, location: Path) -> None:
    """Train with the library's trainer, deterministically.

    The trainer numbers each continuing piece (``##x``) as it meets it while walking its word counts,
    a hash map seeded at random for every map, and breaks ties between equally frequent merges by those
    numbers; so the vocabulary itself changed from one training to the next. A first pass with no
    merges finds the continuing pieces; the real pass gets them, sorted, after the special tokens, so
    every number is fixed before any merge. They then leave the added tokens (they are ordinary pieces).
    """
    from tokenizers import processors

    pieces = sorted(t for t in _trained(corpora, 0, SPECIALS).get_vocab() if t.startswith("##"))
    vocab = _trained(corpora, vocab_size, SPECIALS + pieces).get_vocab(with_added_tokens=False)
    tokenizer = _bert_wordpiece(vocab)
    tokenizer.add_special_tokens(SPECIALS)
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    location.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=location.parent, suffix=".partial")  # unique: runs may share the cache
    os.close(handle)
    try:
        tokenizer.save(partial)
        os.replace(partial, location)
    finally:
        Path(partial).unlink(missing_ok=True)


def _bert_wordpiece(vocab: dict[str, int] | None = None) -> "Tokenizer":
    """BERT's uncased pipeline around a WordPiece model (empty, for training, without ``vocab``)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers

    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    return tokenizer


def _trained(corpora: list[Path], vocab_size: int, special_tokens: list[str]) -> "Tokenizer":
    """A tokenizer fitted by the library's trainer; ``vocab_size`` 0 stops it before the first merge."""
    from tokenizers import trainers

    tokenizer = _bert_wordpiece()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=special_tokens, show_progress=False)
    try:
        tokenizer.train([str(p) for p in corpora], trainer)
    except Exception as err:  # noqa: BLE001 - the tokenizers library raises plain Exception
        raise DataError(
            f"body.tokenizer_corpora: cannot train a tokenizer on {', '.join(map(str, corpora))} ({err}); "
            f"the corpora must be UTF-8 text, one text per line"
        ) from err
    return tokenizer
