from __future__ import annotations

import json
from pathlib import Path

from tartan_fw.data.readers.base import DatasetReader, Example
from tartan_fw.errors import DataError


@DatasetReader.register("jsonl_classification")
class JsonlClassificationReader(DatasetReader):
    """JSON lines with ``text`` and ``label`` fields (other keys are ignored); labels become strings."""

    def _read(self, path: Path) -> list[Example]:
        examples = []
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise DataError(f"{path}:{number}: malformed JSON ({err.msg}); fix or remove the line") from err
                if not isinstance(record, dict):
                    raise DataError(f"{path}:{number}: expected a JSON object with 'text' and 'label'")
                for field in ("text", "label"):
                    if field not in record:
                        raise DataError(f"{path}:{number}: missing '{field}' field; every line needs 'text' and 'label'")
                if not isinstance(record["text"], str):
                    raise DataError(f"{path}:{number}: 'text' must be a string")
                examples.append(Example(record["text"], str(record["label"]), number))
        return examples
