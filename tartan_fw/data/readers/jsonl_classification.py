from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from tartan_fw.data.readers.base import DatasetReader
from tartan_fw.data.readers.files import ENCODING, FileReader, Row
from tartan_fw.errors import DataError


def json_records(path: Path, fields: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; a line that is no JSON object is an error
    naming it and the ``fields`` each object needs.

    ``datasets``' own JSON loader reports a bad line as a parser offset, so lines are parsed here.
    """
    with path.open(encoding=ENCODING) as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            if _opens_an_array_of_objects(line):
                raise DataError(f"{path}:{number}: a JSON array, where JSON lines hold one object per line; write "
                                f"each of its objects on a line of its own (jq -c '.[]' {path.name})")
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"{path}:{number}: malformed JSON ({err.msg}); fix or remove the line") from err
            if not isinstance(record, dict):
                raise DataError(f"{path}:{number}: expected a JSON object with {fields}")
            if "\\u" in line and _holds_a_lone_surrogate(record):
                raise DataError(f"{path}:{number}: holds a lone surrogate escape (\\ud800 to \\udfff without its "
                                f"pair), which is no character; fix or remove the line")
            yield number, record


def _opens_an_array_of_objects(line: str) -> bool:
    """``[`` alone (a pretty-printed array) or ``[{...`` (one on a line): a JSON file, which is better said than
    blaming the line as malformed or as no object."""
    text = line.strip()
    return text.startswith("[") and text[1:].lstrip()[:1] in ("", "{")


def _holds_a_lone_surrogate(record: dict[str, Any]) -> bool:
    """JSON lets an escape such as ``\\ud800`` stand alone; the string it parses to cannot be written as UTF-8,
    so the Arrow cache, the tokenizer and the output of ``predict`` would fail on it with a traceback."""
    try:
        json.dumps(record, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


@DatasetReader.register("jsonl_classification")
class JsonlClassificationReader(FileReader):
    """JSON lines with a text and a label field (other keys are ignored); labels become strings.

    Args:
        text_column, label_column: the fields holding each line's text and label.
    """

    def __init__(self, text_column: str = "text", label_column: str = "label", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.text_column = text_column
        self.label_column = label_column

    def rows(self, path: Path, labelled: bool) -> Iterator[Row]:
        text, label = self.text_column, self.label_column
        needed = (text, label) if labelled else (text,)
        first_label: dict[type, tuple[int, Any]] = {}  # per kind (str, int, bool): the line and label it began at
        for number, record in json_records(path, " and ".join(f"'{f}'" for f in needed)):
            for field in needed:
                if field not in record:
                    raise DataError(f"{path}:{number}: missing '{field}' field; every line needs "
                                    f"{' and '.join(repr(f) for f in needed)}")
            if not isinstance(record[text], str):
                raise DataError(f"{path}:{number}: '{text}' must be a string")
            row = {"text": record[text], "line": number}
            if labelled:
                row["label"] = _label_name(record[label], f"{path}:{number}: '{label}'")
                first_label.setdefault(type(record[label]), (number, record[label]))
                if len(first_label) > 1:
                    raise DataError(_mixed_kinds(f"{path}:{number}: '{label}'", record[label], first_label))
            yield row


def _label_name(value: Any, where: str) -> str:
    """The class a JSON label trains: a string, a whole number or a boolean, spelled as Python spells it. Anything
    else would become a class named after that spelling (``"['x']"``, ``"nan"``, ``"1.5"``), so it is refused."""
    if isinstance(value, (str, int)):  # bool is an int
        return str(value)
    if value is None:
        raise DataError(f"{where} is null; give the line a label or remove it")
    raise DataError(f"{where} is {json.dumps(value)[:60]}, not a label; give the line one label: a string, a whole "
                    f"number or true/false")


def _mixed_kinds(where: str, value: Any, first_label: dict[type, tuple[int, Any]]) -> str:
    """Numbers (or booleans) on some lines and names on others are two label schemes in one file, not one set
    of classes."""
    line, first = next(iter(first_label.values()))
    return (f"{where} is {json.dumps(value)} where line {line}'s is {json.dumps(first)}; write every label of "
            f"the file the same way, all names, all numbers or all booleans")
