from __future__ import annotations

from typing import Any

from tartan_fw.common.cache import content_digest
from tartan_fw.data.readers.base import DatasetReader, Examples
from tartan_fw.data.readers.tables import TableReader
from tartan_fw.errors import DataError


@DatasetReader.register("saved")
class SavedDatasetReader(TableReader):
    """A folder written by ``Dataset.save_to_disk`` (or one split's folder of a saved ``DatasetDict``:
    ``<folder>/train``), under the data root.

    Args:
        text_column, label_column: the columns holding the text and the label.
    """

    reads_folders = True

    def default_file(self, split: str) -> str:
        return {"dev": "validation"}.get(split, split)  # DatasetDict's usual split names

    def _load(self, data_root: Any, name: str, folder: str, labelled: bool) -> Examples:
        from datasets import Dataset

        path = data_root.file(f"{folder}/{name}" if folder else name, folder=True)
        if (path / "dataset_dict.json").exists():
            raise DataError(f"{path}: a saved DatasetDict; name one of its splits' folders (e.g. {path.name}/train)")
        try:
            dataset = Dataset.load_from_disk(str(path))
        except (FileNotFoundError, ValueError, OSError) as err:
            raise DataError(f"{path}: not a folder written by Dataset.save_to_disk ({err})") from err
        return self.examples(dataset, str(path), labelled, content_digest(path))
