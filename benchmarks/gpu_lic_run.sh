#!/usr/bin/env bash
# Short real training + real-bitstream test of the scale hyperprior on a GPU, fp32 and bf16-mixed,
# plus training throughput beside a plain CompressAI loop. Used for the issue-2 closing note.
#   VIMEO=<vimeo_septuplet dir> KODAK=<kodak dir> OUT=<results dir> STEPS=3000 bash benchmarks/gpu_lic_run.sh
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
VIMEO=$(realpath "${VIMEO:?}") KODAK=$(realpath "${KODAK:?}") OUT=${OUT:?} STEPS=${STEPS:-3000}
python3 -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null || {
  echo "$(basename "$0"): needs a CUDA GPU (python3 cannot import torch or torch.cuda.is_available() is False); nothing was run" >&2
  exit 1
}
common=(--config "$REPO/configs/lic/bmshj2018-hyperprior.yaml" --trainer.accelerator gpu --trainer.devices 1
  --trainer.max_epochs -1 --trainer.check_val_every_n_epoch 50 --trainer.enable_progress_bar false
  --data.init_args.train.init_args.root "$VIMEO" --data.init_args.val.init_args.root "$VIMEO"
  --data.init_args.val_fraction 0.07 --data.init_args.test.init_args.root "$KODAK" --data.init_args.num_workers 8)
run() {  # name precision steps; each run in its own folder (checkpoints/ and runs/ are relative)
  local name=$1 prec=$2 steps=$3 work="$OUT/$1"
  mkdir -p "$work"
  local t0=$(date +%s)
  (cd "$work" && python3 -m jpegnn fit "${common[@]}" --trainer.precision "$prec" --trainer.max_steps "$steps" 2>&1 \
    | grep -v -i warn | tail -2)
  local t1=$(date +%s)
  (cd "$work" && python3 -m jpegnn test "${common[@]}" --trainer.precision "$prec" \
    --ckpt_path checkpoints/bmshj2018-hyperprior/last.ckpt 2>&1 | grep -E "test/|Test metric" || true)
  echo "$name: fit $((t1 - t0)) s for $steps steps (incl. start-up and validation)"
  for f in results.json per_image.csv; do
    src=$(ls -td "$work"/runs/bmshj2018-hyperprior/*/ | head -1)/$f; [ -f "$src" ] && cp "$src" "$OUT/$name-$f"
  done
  rm -rf "$work"
}
run hyperprior-fp32 32-true "$STEPS"
run hyperprior-bf16 bf16-mixed "$STEPS"
cd "$REPO"
python3 benchmarks/bench_lic_training.py --device cuda --patch 256 --batch 16 --steps 50 --warmup 10 --rounds 2 2>&1 | tail -5
python3 benchmarks/bench_lic_training.py --device cuda --precision bf16-mixed --patch 256 --batch 16 --steps 50 --warmup 10 --rounds 2 2>&1 | tail -5
