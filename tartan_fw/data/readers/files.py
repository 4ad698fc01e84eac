"""Readers of one local file, parsed row by row (so every error can name its line) into the Arrow cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Iterator

from tartan_fw.common.cache import content_digest
from tartan_fw.data.arrow import FORMAT_VERSION, from_rows
from tartan_fw.data.readers.base import DatasetReader, Examples
from tartan_fw.errors import DataError

Row = dict[str, Any]
ENCODING = "utf-8-sig"  # UTF-8, less the byte-order mark Excel and Notepad put first, which is no part of line 1


class FileReader(DatasetReader):
    """A file under the data root, read by :meth:`rows` once per content: the table is cached under a
    fingerprint of the file's bytes and the reader's settings, and later runs memory-map it.

    Subclasses implement :meth:`rows`, yielding ``{"text", "line"}`` (and ``"label"``, a string, when
    ``labelled``) and raising :class:`DataError` naming the line of anything malformed.
    """

    #: Whether ``line`` holds line numbers (``file:line`` in messages) or row indices (``file, row N``).
    numbered_lines: ClassVar[bool] = True

    def _load(self, data_root: Any, name: str, folder: str, labelled: bool) -> Examples:
        from datasets import Features, Value
        from datasets.fingerprint import Hasher

        path = data_root.file(f"{folder}/{name}" if folder else name)
        fingerprint = Hasher.hash([FORMAT_VERSION, self.settings(), labelled, content_digest(path)])
        columns = {"text": Value("string"), "line": Value("int64"), **({"label": Value("string")} if labelled else {})}
        dataset = from_rows(self._generate, {"path": str(path), "labelled": labelled}, Features(columns), fingerprint)
        return Examples(dataset, str(path), self.numbered_lines)

    def _generate(self, path: str, labelled: bool) -> Iterator[Row]:
        empty = True
        try:
            for row in self.rows(Path(path), labelled):
                empty = False
                yield row
        except UnicodeDecodeError as err:
            raise DataError(
                f"{path}:{_first_undecodable_line(Path(path))}: not UTF-8 text ({err.reason}); re-save the file as UTF-8"
            ) from err
        if empty:  # datasets cannot store an empty table
            raise DataError(f"{path}: the file holds no examples; check the path or regenerate the file")

    def rows(self, path: Path, labelled: bool) -> Iterator[Row]:
        raise NotImplementedError


def _first_undecodable_line(path: Path) -> int:
    """The decoder reports offsets within its read buffer, so the line is found by decoding line by line."""
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 0
