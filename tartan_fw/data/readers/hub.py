from __future__ import annotations

from typing import Any, Optional

from tartan_fw.data.arrow import datasets_cache
from tartan_fw.data.readers.base import DatasetReader, Examples
from tartan_fw.data.readers.tables import TableReader
from tartan_fw.errors import DataError


@DatasetReader.register("hub")
class HubReader(TableReader):
    """A dataset from the Hugging Face hub (or a local folder of data files ``load_dataset`` understands),
    one split at a time: a task names the split where it would name a file (``train``, ``test[:50%]``).
    Downloads are cached under ``$TARTAN_CACHE/datasets``, so later runs work offline.

    Args:
        path: the dataset's hub name (``fancyzhx/ag_news``) or a local folder.
        name: its configuration, for datasets that have several (``wikitext-103-raw-v1``).
        revision: a branch, tag or commit, to pin the data.
        text_column, label_column: the columns holding the text and the label.
    """

    def __init__(self, path: str, name: Optional[str] = None, revision: Optional[str] = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = path
        self.name = name
        self.revision = revision

    def data_files(self, name: str, folder: str = "") -> list[str]:
        return []  # splits of a hub dataset, not files under the data root

    def default_file(self, split: str) -> str:
        return {"dev": "validation"}.get(split, split)

    def _load(self, data_root: Any, name: str, folder: str, labelled: bool) -> Examples:
        import datasets

        origin = f"{self.path}{f' ({self.name})' if self.name else ''} split '{name}'"
        try:
            dataset = datasets.load_dataset(self.path, self.name, split=name, revision=self.revision,
                                            cache_dir=str(datasets_cache()))
        except Exception as err:  # noqa: BLE001 - hub, network and file errors have no common base
            detail = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise DataError(f"{origin}: cannot load the dataset ({detail}); check the reader's path, name and the "
                            f"split; offline? load it once where there is internet (it is cached in TARTAN_CACHE)") from err
        return self.examples(dataset, origin, labelled, dataset._fingerprint)
