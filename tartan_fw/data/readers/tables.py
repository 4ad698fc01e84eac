"""Readers of data that ``datasets`` already holds as Arrow (a ``save_to_disk`` folder, a hub dataset):
their columns are checked and renamed into the readers' shape in one cached pass."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tartan_fw.data.arrow import FORMAT_VERSION, cached_map
from tartan_fw.data.readers.base import DatasetReader, Examples
from tartan_fw.errors import DataError

if TYPE_CHECKING:
    import pyarrow as pa
    from datasets import Dataset


class TableReader(DatasetReader):
    """Shared by the readers of Arrow tables: which columns hold the text and the label.

    A ``ClassLabel`` column gives its class names; other labels become strings. Rows are numbered from 0
    in messages, as ``datasets`` indexes them.
    """

    def __init__(self, text_column: str = "text", label_column: str = "label", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.text_column = text_column
        self.label_column = label_column

    def examples(self, dataset: "Dataset", origin: str, labelled: bool, source_fingerprint: str) -> Examples:
        """``dataset``'s text (and label) columns as examples, checked, under a fingerprint of the source and
        the reader's settings."""
        from datasets import ClassLabel, Features, Value
        from datasets.fingerprint import Hasher

        columns = [self.text_column, self.label_column] if labelled else [self.text_column]
        missing = [c for c in columns if c not in dataset.column_names]
        if missing:
            raise DataError(f"{origin}: no column '{missing[0]}' (columns: {', '.join(dataset.column_names)}); set "
                            f"the reader's text_column and label_column")
        text_type = dataset.features[self.text_column]
        if not (isinstance(text_type, Value) and text_type.dtype in ("string", "large_string")):
            raise DataError(f"{origin}: column '{self.text_column}' holds {text_type}, not text; set text_column")
        label_type = dataset.features[self.label_column] if labelled else None
        names = label_type.names if isinstance(label_type, ClassLabel) else None
        features = {"text": Value("string"), "line": Value("int64"), **({"label": Value("string")} if labelled else {})}
        fingerprint = Hasher.hash([FORMAT_VERSION, self.settings(), labelled, source_fingerprint])
        rows = cached_map(dataset.select_columns(columns).with_format("arrow"), _shape, fingerprint, "rows",
                          Features(features), with_indices=True,
                          fn_kwargs={"columns": columns, "names": names, "origin": origin})
        return Examples(rows.with_format(None), origin, lines=False)


def _shape(batch: "pa.Table", indices: list[int], columns: list[str], names: Optional[list[str]], origin: str) -> "pa.Table":
    """One batch as ``text``, ``line`` (the row index) and ``label`` (class names, or strings); a missing
    value is an error naming its row."""
    import numpy as np
    import pyarrow as pa

    for column in columns:
        missing = batch.column(column).is_null().to_numpy(zero_copy_only=False)
        if column != columns[0] and names is not None:  # ClassLabel's -1: no label (test splits of benchmarks)
            missing |= batch.column(column).fill_null(0).to_numpy() < 0
        if missing.any():
            raise DataError(f"{origin}, row {indices[int(np.argmax(missing))]}: '{column}' is missing; fill or drop "
                            f"the row (a split without labels cannot train or evaluate)")
    shaped = {"text": batch.column(columns[0]).cast(pa.string()), "line": pa.array(indices, pa.int64())}
    if len(columns) == 2:
        labels = batch.column(columns[1])
        shaped["label"] = (pa.array(names).take(labels) if names is not None
                           else pa.array([str(v) for v in labels.to_pylist()], pa.string()))
    return pa.table(shaped)
