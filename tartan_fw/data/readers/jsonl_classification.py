from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, Optional

from tartan_fw.data.readers.base import DatasetReader
from tartan_fw.data.readers.files import FileReader, Row
from tartan_fw.errors import DataError


def json_records(path: Path, fields: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; a line that is no JSON object is an error
    naming it and the ``fields`` each object needs.

    ``datasets``' own JSON loader reports a bad line as a parser offset, so lines are parsed here.
    """
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"{path}:{number}: malformed JSON ({err.msg}); fix or remove the line") from err
            if not isinstance(record, dict):
                raise DataError(f"{path}:{number}: expected a JSON object with {fields}")
            yield number, record


@DatasetReader.register("jsonl_classification")
class JsonlClassificationReader(FileReader):
    """JSON lines with a text and a label field (other keys are ignored); labels become strings.

    Args:
        text_column, label_column: the fields holding each line's text and label.
        max_examples, fraction, sample_seed: subsampling (see ``DatasetReader``).
    """

    def __init__(self, text_column: str = "text", label_column: str = "label", max_examples: Optional[int] = None,
                 fraction: Optional[float] = None, sample_seed: int = 0) -> None:
        super().__init__(max_examples, fraction, sample_seed)
        self.text_column = text_column
        self.label_column = label_column

    def rows(self, path: Path, labelled: bool) -> Iterator[Row]:
        text, label = self.text_column, self.label_column
        needed = (text, label) if labelled else (text,)
        for number, record in json_records(path, " and ".join(f"'{f}'" for f in needed)):
            for field in needed:
                if field not in record:
                    raise DataError(f"{path}:{number}: missing '{field}' field; every line needs "
                                    f"{' and '.join(repr(f) for f in needed)}")
            if not isinstance(record[text], str):
                raise DataError(f"{path}:{number}: '{text}' must be a string")
            row = {"text": record[text], "line": number}
            if labelled:
                if record[label] is None:
                    raise DataError(f"{path}:{number}: '{label}' is null; give the line a label or remove it")
                row["label"] = str(record[label])
            yield row
