from __future__ import annotations

from pathlib import Path
from typing import Iterator

from tartan_fw.data.readers.base import DatasetReader
from tartan_fw.data.readers.files import ENCODING, FileReader, Row
from tartan_fw.errors import DataError


@DatasetReader.register("text_lines")
class TextLinesReader(FileReader):
    """A corpus with one text per line (blank lines skipped): the TAPT and DAPT masked-LM data."""

    def rows(self, path: Path, labelled: bool) -> Iterator[Row]:
        if labelled:
            raise DataError(f"{path}: text_lines reads unlabelled text; read labelled data with a "
                            f"jsonl_classification, csv, parquet, saved or hub reader")
        with path.open(encoding=ENCODING) as lines:
            for number, line in enumerate(lines, start=1):
                if text := line.strip():
                    yield {"text": text, "line": number}
