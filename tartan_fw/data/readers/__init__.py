from tartan_fw.data.readers.base import DatasetReader, Examples, Source
from tartan_fw.data.readers.delimited import CsvReader
from tartan_fw.data.readers.files import FileReader
from tartan_fw.data.readers.hub import HubReader
from tartan_fw.data.readers.jsonl_classification import JsonlClassificationReader
from tartan_fw.data.readers.parquet import ParquetReader
from tartan_fw.data.readers.saved import SavedDatasetReader
from tartan_fw.data.readers.tables import TableReader
from tartan_fw.data.readers.text_lines import TextLinesReader

__all__ = [
    "CsvReader", "DatasetReader", "Examples", "FileReader", "HubReader", "JsonlClassificationReader", "ParquetReader",
    "SavedDatasetReader", "Source", "TableReader", "TextLinesReader",
]
