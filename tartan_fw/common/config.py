"""Experiment files: Jsonnet evaluation with explicit ext-vars, then command-line overrides."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Sequence

from tartan_fw.errors import ConfigurationError, TartanError


EXT_VARS_CODE = "tartan_ext_vars"  # every --ext-var as one object, so libsonnet helpers can default

# The shipped Jsonnet library, imported from any folder as 'tartan_fw/<name>.libsonnet': this folder is on
# the search path and holds tartan_fw/ (package data, so a wheel ships it; experiments/ imports it so too).
LIBRARY = Path(__file__).resolve().parents[1] / "jsonnet"


def evaluate_jsonnet(path: Path, ext_vars: dict[str, str], search_path: Sequence[Path] = ()) -> dict[str, Any]:
    """Evaluate ``path``; ext-vars not given fall back to the defaults the file declares.

    An import resolves beside the importing file, then in ``search_path`` (``--jpath``, the last
    given first), then in the shipped library, as Jsonnet's own ``-J`` does.
    """
    import _jsonnet

    if not path.exists():
        raise TartanError(f"{path}: no such experiment file")
    for folder in search_path:
        if not Path(folder).is_dir():
            raise TartanError(f"--jpath {folder}: no such folder; name a folder that holds your .libsonnet files")
    jpath = [str(LIBRARY), *(str(Path(folder).resolve()) for folder in search_path)]  # the right-most wins
    try:
        text = _jsonnet.evaluate_file(str(path), jpathdir=jpath, ext_vars=ext_vars,
                                      ext_codes={EXT_VARS_CODE: json.dumps(ext_vars)})
    except RuntimeError as err:
        raise TartanError(_one_line_jsonnet_error(str(err), path)) from err
    config = json.loads(text)
    if not isinstance(config, dict):
        raise TartanError(f"{path}: an experiment must evaluate to an object, got {type(config).__name__}")
    return config


LOCATION = re.compile(r"([^\s()]+\.(?:jsonnet|libsonnet):[\d:()\-,]+)")


def _one_line_jsonnet_error(message: str, path: Path) -> str:
    """The error's first line, located in the user's own file (at its line where the stack passes
    through it; Jsonnet's laziness often hides it), with the library line it failed in beside it: a
    missing task key fails inside the shipped tartan_fw/*.libsonnet, but the mistake is where the task is written."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    first = lines[0] if lines else message
    frames = [match.group(1) for line in lines[1:] if (match := LOCATION.search(line))]
    first = re.sub(r"^(RUNTIME|STATIC) ERROR: ", "", first)
    hint = " (pass it with --ext-var KEY=VALUE)" if "undefined external variable" in first.lower() else ""
    if "couldn't open import" in first:
        hint = (" (imports are found beside the importing file, in each --jpath FOLDER, and in the shipped "
                "library as 'tartan_fw/NAME.libsonnet')")
    if not frames:
        located = LOCATION.search(first)
        return f"{first}{hint}" if located else f"{path}: {first}{hint}"
    own = next((frame for frame in frames if _same_file(frame, path)), str(path))  # lazily evaluated: no line
    if own == frames[0]:
        return f"{own}: {first}{hint}"
    return f"{own}: {first} (in {frames[0]}){hint}"


def _same_file(frame: str, path: Path) -> bool:
    try:
        return Path(frame.split(":", 1)[0]).resolve() == path.resolve()
    except OSError:
        return False


def parse_assignment(text: str, option: str) -> tuple[str, str]:
    if "=" not in text:
        raise TartanError(f"{option} {text!r}: expected KEY=VALUE")
    key, value = text.split("=", 1)
    return key.strip(), value


def parse_value(text: str) -> Any:
    """JSON when it parses (numbers, booleans, null, lists), else the plain string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def deep_merge(base: Any, override: Any) -> Any:
    """``override`` merged into ``base``: objects recursively, anything else replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = deep_merge(base[key], value) if key in base else value
        return merged
    return override


def apply_dotted(config: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.0.c`` in place; the containing object or list must already exist."""
    keys = dotted.split(".")
    node: Any = config
    for depth, key in enumerate(keys[:-1]):
        node = _child(node, key, ".".join(keys[: depth + 1]), dotted)
    last = keys[-1]
    if isinstance(node, list):
        index = _index(node, last, dotted)
        node[index] = deep_merge(node[index], value)
    elif isinstance(node, dict):
        node[last] = deep_merge(node[last], value) if last in node else value
    else:
        raise ConfigurationError([f"-o {dotted}: '{'.'.join(keys[:-1])}' is a value, not an object"])


def _child(node: Any, key: str, so_far: str, dotted: str) -> Any:
    if isinstance(node, dict):
        if key not in node:
            raise ConfigurationError(
                [f"-o {dotted}: '{so_far}' matches nothing in the config (keys there: {', '.join(sorted(node))})"]
            )
        return node[key]
    if isinstance(node, list):
        return node[_index(node, key, dotted)]
    raise ConfigurationError([f"-o {dotted}: '{so_far}' is a value, not an object"])


def _index(node: list, key: str, dotted: str) -> int:
    if not key.isdigit() or int(key) >= len(node):
        raise ConfigurationError([f"-o {dotted}: '{key}' is not an index of a list of {len(node)}"])
    return int(key)


def load_config(
    path: Path,
    ext_vars: dict[str, str] | None = None,
    overrides_json: str | None = None,
    dotted: list[tuple[str, str]] = (),
    search_path: Sequence[Path] = (),
) -> dict[str, Any]:
    """The experiment as a plain dict: Jsonnet (imports also from ``search_path``), then ``--overrides``
    JSON, then ``-o`` settings."""
    config = evaluate_jsonnet(path, ext_vars or {}, search_path)
    if overrides_json:
        try:
            overrides = json.loads(overrides_json)
        except json.JSONDecodeError as err:
            raise TartanError(f"--overrides: not valid JSON ({err})") from err
        if not isinstance(overrides, dict):
            raise TartanError(f"--overrides: expected a JSON object such as '{{\"trainer\": {{\"max_steps\": 10}}}}', "
                              f"got {type(overrides).__name__}")
        config = deep_merge(config, overrides)
    for key, value in dotted:
        apply_dotted(config, key, parse_value(value))
    return config
