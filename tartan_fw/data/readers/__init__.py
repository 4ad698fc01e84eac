from tartan_fw.data.readers.base import DatasetReader, Example
from tartan_fw.data.readers.jsonl_classification import JsonlClassificationReader
from tartan_fw.data.readers.text_lines import TextLinesReader

__all__ = ["DatasetReader", "Example", "JsonlClassificationReader", "TextLinesReader"]
