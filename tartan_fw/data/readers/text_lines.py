from __future__ import annotations

from pathlib import Path

from tartan_fw.data.readers.base import DatasetReader, Example


@DatasetReader.register("text_lines")
class TextLinesReader(DatasetReader):
    """A corpus with one text per line (blank lines skipped): the TAPT and DAPT masked-LM data."""

    def _read(self, path: Path) -> list[Example]:
        with path.open(encoding="utf-8") as lines:
            return [Example(line.strip(), line=number) for number, line in enumerate(lines, start=1) if line.strip()]
