from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from tartan_fw.data.readers.base import DatasetReader
from tartan_fw.data.readers.files import FileReader, Row
from tartan_fw.errors import DataError


@DatasetReader.register("parquet")
class ParquetReader(FileReader):
    """A Parquet file with a text column and, for labelled data, a label column; labels become strings.
    Parquet has no lines, so messages name rows (0-based, as ``datasets`` indexes them).

    Args:
        text_column, label_column: the columns holding the text and the label.
    """

    numbered_lines = False

    def __init__(self, text_column: str = "text", label_column: str = "label", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.text_column = text_column
        self.label_column = label_column

    def default_file(self, split: str) -> str:
        return f"{split}.parquet"

    def rows(self, path: Path, labelled: bool) -> Iterator[Row]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            table = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as err:
            raise DataError(f"{path}: not a readable Parquet file ({err}); rewrite it, e.g. with pandas' to_parquet") from err
        columns = [self.text_column, self.label_column] if labelled else [self.text_column]
        missing = [c for c in columns if c not in table.schema_arrow.names]
        if missing:
            raise DataError(f"{path}: no column '{missing[0]}' (columns: {', '.join(table.schema_arrow.names)}); "
                            f"set the reader's text_column and label_column")
        text_type = table.schema_arrow.field(self.text_column).type
        if not (pa.types.is_string(text_type) or pa.types.is_large_string(text_type)):
            raise DataError(f"{path}: column '{self.text_column}' holds {text_type}, not text; set text_column")
        row = 0
        for batch in table.iter_batches(columns=columns, batch_size=8192):
            values = [batch.column(i).to_pylist() for i in range(len(columns))]
            for text, *label in zip(*values):
                if text is None:
                    raise DataError(f"{path}, row {row}: '{self.text_column}' is null; fill or drop the row")
                if labelled and label[0] is None:
                    raise DataError(f"{path}, row {row}: '{self.label_column}' is null; give the row a label or drop it")
                yield {"text": text, "line": row, **({"label": str(label[0])} if labelled else {})}
                row += 1
