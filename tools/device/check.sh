#!/usr/bin/env bash
# Every GPU measurement in one device call, from the repository root after tools/device/prepare.sh:
#   bash tools/device/check.sh                  (on the GPU machine; docs/how-to/scaling.md, "Measuring on a GPU")
#   DEVICE=cpu QUICK=1 bash tools/device/check.sh   (here: the same commands, tiny, as a dry run)
# Parts: setup, bench (tools/bench.py, roberta-base shape), minilm (fine-tune, MT-TARTAN and META-TARTAN
# sweeps on citation_intent with all-MiniLM-L6-v2, all at once on the GPU), report (compare, plots).
# A failing part is logged and the next one runs; the whole ends within BUDGET seconds, under the
# call's 600. $OUT gets at most 8 files (the call's limit): check.log (everything printed), bench.json,
# compare.md, compare.json, weights.png, dev.png, runs.tar.gz (the runs without their model weights).
set -uo pipefail
cd "$(dirname "$0")/../.."
export DEVICE=${DEVICE:-cuda} QUICK=${QUICK:-0} SEEDS=${SEEDS:-0-2} JOBS=${JOBS:-3}
export OUT=${OUT:-runs/device-out} work=runs/device-check
export TARTAN_DATA=$PWD/.device/data MODEL=$PWD/.device/minilm PYTHONUNBUFFERED=1
deadline=$((SECONDS + ${BUDGET:-510}))
rm -rf "$work" && mkdir -p "$work" "$OUT"
exec > >(tee "$OUT/check.log") 2>&1

tartan() { python3 -m tartan_fw.cli.main "$@"; }

setup() {
  # jsonnet is the one dependency the GPU image lacks; the project runs from the tree, not installed.
  python3 -c 'import _jsonnet' 2>/dev/null || python3 -m pip install -q --no-index --no-deps --no-compile \
    --no-cache-dir --target /tmp/site .whl/*.whl || return
  git log -1 --oneline 2>/dev/null
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 - <<'PY'
import os, torch, transformers
from tartan_fw.models.bodies.huggingface import HuggingFaceBody
body = HuggingFaceBody(None, model_name=os.environ["MODEL"])
print(f"torch {torch.__version__}, transformers {transformers.__version__}, cuda {torch.cuda.is_available()}; "
      f"MiniLM parameters load as {next(body.parameters()).dtype}")
PY
}

bench() {
  if ((QUICK)); then
    python3 tools/bench.py --device "$DEVICE" --quick --steps 1 --warmup 1 --threads 1 --batch-size 4 --seq-len 32 \
      --json "$OUT/bench.json"
  else  # --quick: fine-tune, masked-LM, MT and META at K=1, 2 (the K=4 and masking studies take minutes more)
    python3 tools/bench.py --model roberta-base --device "$DEVICE" --quick --steps 10 --warmup 3 --json "$OUT/bench.json"
  fi
}

minilm() {
  # Paper settings (experiments/citation_intent_*.jsonnet) with a short schedule: MT and META take 132 steps
  # of 128 end-task examples, the 10 epochs fine-tuning sees at 16 a step, and skip the final fine-tuning
  # stage. No periodic checkpoints: they would cost time in runs this short.
  local common=(--ext-var "model=$MODEL" --seeds "$SEEDS" --jobs "$JOBS" --device "$DEVICE"
                -o trainer.checkpoint_every=null)
  local mt=(-o trainer.max_steps=132 -o trainer.finetune=null) meta=()
  if ((QUICK)); then
    common+=(-o body.max_length=32 -o end_task.batch_size=4 -o trainer.max_steps=4 -o trainer.eval_every=2)
    mt=(-o trainer.finetune=null -o trainer.accumulation_steps=1 -o aux_tasks.0.batch_size=4 -o aux_tasks.1.batch_size=4)
    meta=(-o weighter.meta_batch_size=4 -o weighter.dev_batch_size=4 -o weighter.meta_head_steps=2)
  fi
  local pids=() pid failed=0 sampler=
  if command -v nvidia-smi >/dev/null; then  # how busy the shared GPU is, to size JOBS next time
    nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader -l 20 &
    sampler=$!
  fi
  tartan sweep experiments/citation_intent_finetune.jsonnet -s "$work/finetune" "${common[@]}" &
  pids+=($!)
  tartan sweep experiments/citation_intent_mt.jsonnet -s "$work/mt" "${common[@]}" "${mt[@]}" &
  pids+=($!)
  tartan sweep experiments/citation_intent_meta.jsonnet -s "$work/meta" "${common[@]}" "${mt[@]}" "${meta[@]}" &
  pids+=($!)
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  [[ -z $sampler ]] || kill "$sampler"
  return $failed
}

report() {
  tar -czf "$OUT/runs.tar.gz" -C "$work" --exclude=best --exclude=checkpoint --exclude=model finetune mt meta
  local dirs=() names=() method
  for method in finetune:fine-tune mt:MT-TARTAN meta:META-TARTAN; do  # methods with a finished seed
    compgen -G "$work/${method%%:*}/*/metrics.json" >/dev/null && dirs+=("$work/${method%%:*}") && names+=(--name "${method#*:}")
  done
  ((${#dirs[@]})) || { echo "no finished MiniLM run"; return 1; }
  tartan compare "${dirs[@]}" "${names[@]}" --out "$work/compare" && cp "$work"/compare.{md,json} "$OUT"/
  tartan plot "${dirs[@]}" "${names[@]}" -o "$OUT"
}

part() {  # part NAME LIMIT: run the function NAME for at most LIMIT seconds, or what is left of the budget
  local left=$((deadline - SECONDS)) started=$SECONDS code
  local limit=$(($2 < left ? $2 : left > 1 ? left : 1))  # timeout 0 would mean no limit
  echo "=== $1: limit ${limit}s, $(date +%T)"
  timeout -k 20 "$limit" bash -c "$1"
  code=$?
  echo "=== $1: exit $code after $((SECONDS - started))s$( ((code == 124)) && echo ', stopped at its limit')"
}

export -f tartan setup bench minilm report
export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
part setup 60
part bench 150
part minilm $((deadline - SECONDS - 30))  # all but the report's 30 s
part report 30
ls -l "$OUT"
