from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from tartan_fw.data.readers.base import DatasetReader, Example
from tartan_fw.errors import DataError


def json_records(path: Path, fields: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; a line that is no JSON object is an error
    naming it and the ``fields`` each object needs."""
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
class JsonlClassificationReader(DatasetReader):
    """JSON lines with ``text`` and ``label`` fields (other keys are ignored); labels become strings."""

    def _read(self, path: Path) -> list[Example]:
        examples = []
        for number, record in json_records(path, "'text' and 'label'"):
            for field in ("text", "label"):
                if field not in record:
                    raise DataError(f"{path}:{number}: missing '{field}' field; every line needs 'text' and 'label'")
            if not isinstance(record["text"], str):
                raise DataError(f"{path}:{number}: 'text' must be a string")
            examples.append(Example(record["text"], str(record["label"]), number))
        return examples
