from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterator, Optional

from tartan_fw.common.constraints import Character
from tartan_fw.data.readers.base import DatasetReader
from tartan_fw.data.readers.files import ENCODING, FileReader, Row
from tartan_fw.errors import DataError


@DatasetReader.register("csv")
class CsvReader(FileReader):
    """CSV or TSV with a header row naming the columns (other columns are ignored); labels become strings.

    Args:
        text_column, label_column: the header names of the text and label columns.
        delimiter: the field separator; default a tab for ``.tsv`` files, else a comma.
    """

    def __init__(self, text_column: str = "text", label_column: str = "label", delimiter: Optional[Character] = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.text_column = text_column
        self.label_column = label_column
        self.delimiter = delimiter

    def default_file(self, split: str) -> str:
        return f"{split}.{'tsv' if self.delimiter == chr(9) else 'csv'}"

    def rows(self, path: Path, labelled: bool) -> Iterator[Row]:
        delimiter = self.delimiter or ("\t" if path.suffix.lower() == ".tsv" else ",")
        with path.open(encoding=ENCODING, newline="") as handle:
            records = csv.reader(handle, delimiter=delimiter, strict=True)
            try:
                yield from self._records(path, records, labelled)
            except csv.Error as err:
                raise DataError(f"{path}:{records.line_num}: malformed CSV ({err}); fix the quoting") from err

    def _records(self, path: Path, records, labelled: bool) -> Iterator[Row]:
        header = next(records, None)
        if header is None:
            return
        needed = [self.text_column, self.label_column] if labelled else [self.text_column]
        missing = [c for c in needed if c not in header]
        if missing:
            raise DataError(f"{path}:1: no column '{missing[0]}' in the header ({', '.join(header)}); set the "
                            f"reader's text_column and label_column")
        text, label = header.index(self.text_column), header.index(self.label_column) if labelled else -1
        start = records.line_num + 1
        for record in records:
            line, start = start, records.line_num + 1
            if not record:
                continue  # a blank line
            if len(record) != len(header):
                raise DataError(f"{path}:{line}: {len(record)} fields where the header has {len(header)}; "
                                f"quote fields that contain the delimiter")
            row = {"text": record[text], "line": line}
            if labelled:
                if not record[label]:
                    raise DataError(f"{path}:{line}: empty '{self.label_column}'; give the row a label or remove it")
                row["label"] = record[label]
            yield row
