"""The documentation keeps up with the code: the generated reference covers every registered component,
experiment key and command option; every page is in the site's navigation; the README's test command is
the one CI runs; hand-written pages that name code (the default callbacks) match it; results keep their
provenance."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
import yaml

from tartan_fw import reference
from tartan_fw.common.from_config import constructor_parameters

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
README = (REPO / "README.md").read_text()


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    return reference.pages()


def nav_files(entries: list) -> list[str]:
    files: list[str] = []
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        files += nav_files(value) if isinstance(value, list) else [value]
    return files


def test_reference_covers_every_registered_component_and_parameter(pages: dict[str, str]) -> None:
    families = reference.builtin_families()
    assert {f"reference/components/{base.family}.md" for base in families} <= set(pages)
    for base in families:
        page = pages[f"reference/components/{base.family}.md"]
        injected = set(getattr(base, "injected_parameters", ()))
        for name in base.list_available():
            section = page.split(f"## `{name}` ", 1)[1].split("\n## ", 1)[0]
            for parameter, _, _ in constructor_parameters(base.by_name(name)):
                assert (f"| `{parameter}` |" in section) != (parameter in injected), (base.family, name, parameter)


def test_every_config_parameter_is_described() -> None:
    """The class docstring's ``Args:`` (or a base class's) describes every key, nested objects' included: the
    package's components and the shipped plugins' (loaded here, so the check does not depend on which tests ran
    first in this process); classes that tests register are theirs to document."""
    from conftest import load_shipped_plugins

    load_shipped_plugins()
    undocumented = []
    for base in reference.builtin_families():
        injected = set(getattr(base, "injected_parameters", ()))
        for name in base.list_available():
            cls = base.by_name(name)
            if not cls.__module__.startswith(("tartan_fw.", "plugins.")):
                continue
            classes = [cls] + [nested for key, annotation, _ in constructor_parameters(cls) if key not in injected
                               for nested in reference.nested_classes(annotation)]
            undocumented += [f"{base.family} {name}: {klass.__name__}.{p.name}" for klass in classes
                             for p in reference.parameters(klass, injected) if not p.doc]
    assert not undocumented


def test_reference_parameters_carry_types_defaults_constraints_and_docs(pages: dict[str, str]) -> None:
    meta = pages["reference/components/weighter.md"].split("## `meta` ", 1)[1].split("\n## ", 1)[0]
    row = next(line for line in meta.splitlines() if line.startswith("| `meta_batch_size` |"))
    assert "`int` (at least 1)" in row and "`32`" in row and "phi* is fitted on" in row.replace("\\*", "*")
    source = next(line for line in meta.splitlines() if line.startswith("| `meta_source` |"))
    assert "'step' or 'train' or 'dev'" in source and "`'dev'`" in source
    body = pages["reference/components/body.md"]
    assert "never in the config: `data_root`" in body
    trainer = pages["reference/components/trainer.md"]
    assert "### `tartan.finetune`" in trainer and "FinetuneStage" in trainer


def test_reference_lists_every_experiment_key(pages: dict[str, str]) -> None:
    from tartan_fw.experiment import Experiment

    page = pages["reference/experiment.md"]
    for name, _, _ in constructor_parameters(Experiment):
        assert f"| `{name}` |" in page, name
    assert "`stages`" in page


def test_reference_lists_every_command_and_option(pages: dict[str, str]) -> None:
    page = pages["reference/cli.md"]
    commands = reference.cli_commands()
    assert {"run", "validate", "list", "data fetch", "compare", "sweep"} <= set(commands)
    for name, command in commands.items():
        section = page.split(f"## `{f'tartan-fw {name}'.strip()}`\n", 1)[1].split("\n## ", 1)[0]
        for param in command.params:
            shown = param.human_readable_name if isinstance(param, click.Argument) else ", ".join(param.opts + param.secondary_opts)
            assert f"| `{shown}` |" in section, (name, shown)
    assert "Sentinel" not in page


def test_every_page_is_in_the_nav_and_every_nav_entry_exists(pages: dict[str, str]) -> None:
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    assert config["strict"] is True
    in_nav = nav_files(config["nav"])
    assert len(in_nav) == len(set(in_nav)), "a page is in the nav twice"
    written = {str(path.relative_to(DOCS)) for path in DOCS.rglob("*.md")}
    assert not written & set(pages), "a generated reference page is also committed"
    assert set(in_nav) == written | set(pages)


def test_readme_test_command_is_the_one_ci_runs_after_building_the_docs() -> None:
    block = re.search(r"Run the test suite.*?```bash\n(.*?)```", README, re.DOTALL).group(1).strip()
    ci = (REPO / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == block
    docs_line = next(i for i, line in enumerate(ci) if "mkdocs build --strict" in line)
    assert '".[docs]"' in ci[docs_line] and docs_line < len(ci) - 1


def test_readme_is_short_and_holds_one_protocol_results_placeholder() -> None:
    assert len(README.splitlines()) <= 250
    assert README.count("<!-- protocol-results -->") == 1 and README.count("<!-- /protocol-results -->") == 1
    assert README.index("[start:protocol]") < README.index("<!-- protocol-results -->") < README.index("[end:protocol]")
    assert "--8<-- \"README.md:protocol\"" in (DOCS / "results" / "index.md").read_text()


def test_architecture_page_names_the_built_in_callbacks_in_order() -> None:
    from tartan_fw.training.callbacks.defaults import BUILT_IN_CALLBACKS

    page = (DOCS / "concepts" / "architecture.md").read_text()
    assert ", ".join(f"`{name}`" for name in BUILT_IN_CALLBACKS) in " ".join(page.split())
    assert "Weighter.setup" in page


def test_no_page_lists_the_built_in_callbacks_but_in_full_and_in_order() -> None:
    """A hand-written list of them (three names or more in a row) is the whole list, so it cannot drift."""
    import re

    from tartan_fw.training.callbacks.defaults import BUILT_IN_CALLBACKS

    name = "|".join(BUILT_IN_CALLBACKS)
    run = re.compile(rf"`(?:{name})`(?:,\s*(?:and\s+)?`(?:{name})`){{2,}}")
    full = ", ".join(f"`{n}`" for n in BUILT_IN_CALLBACKS)
    pages = [*DOCS.rglob("*.md"), REPO / "README.md"]
    drifted = [(page.name, found) for page in pages for found in run.findall(page.read_text()) if " ".join(found.split()) != full]
    assert drifted == []


def test_results_pages_state_their_provenance() -> None:
    for path in (DOCS / "results").glob("*.md"):
        if path.name in ("index.md", "benchmarks.md"):
            continue
        text = path.read_text()
        for field in ("| question |", "| date |", "| machine |", "| status |"):
            assert field in text, (path.name, field)
        assert "```bash" in text or "| commands |" in text, path.name
        index = (DOCS / "results" / "index.md").read_text()
        assert f"]({path.name})" in index, path.name


def test_no_measured_numbers_in_component_docstrings() -> None:
    """Measurements live on the results and methods pages, with their commands and dates."""
    for folder in ("weighters", "tasks", "models", "training", "data"):
        for path in (REPO / "tartan_fw" / folder).rglob("*.py"):
            assert "±" not in path.read_text(), path


def test_the_weighter_tutorial_quotes_uniform_as_it_is() -> None:
    page = (DOCS / "tutorials" / "weighter.md").read_text()
    quoted = re.search(r"```python\n(@Weighter.register\(\"uniform\"\).*?)```", page, re.DOTALL).group(1)
    assert quoted in (REPO / "tartan_fw" / "weighters" / "uniform.py").read_text()


def test_every_figure_is_shown_on_a_page() -> None:
    pages = "\n".join(path.read_text() for path in DOCS.rglob("*.md"))
    unused = [figure.name for figure in (DOCS / "figures").iterdir() if f"figures/{figure.name})" not in pages]
    assert not unused
