"""MkDocs hook: the reference pages, generated from the registry and the click commands at build time.

``mkdocs.yml`` names this file under ``hooks``; ``tartan_fw/reference.py`` writes the pages, which exist
only in the built site (nothing generated is committed, so nothing can go stale).
"""

from __future__ import annotations

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files


def on_files(files: Files, config: MkDocsConfig) -> Files:
    from tartan_fw.reference import pages

    for path, markdown in pages().items():
        files.append(File.generated(config, path, content=markdown))
    return files
