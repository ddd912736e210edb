#!/usr/bin/env bash
# GPU check after the deterministic-coding fix: every Kodak image must decode to the model's own
# eval reconstruction (no encoder/decoder desync), and the GPU speed options (bf16, channels_last,
# torch.compile) against the plain CompressAI loop.
#   VIMEO=<vimeo_septuplet dir> KODAK=<kodak dir> OUT=<results dir> bash benchmarks/gpu_lic_check2.sh
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
VIMEO=$(realpath "${VIMEO:?}") KODAK=$(realpath "${KODAK:?}") OUT=${OUT:?}
python3 -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null || {
  echo "$(basename "$0"): needs a CUDA GPU (python3 cannot import torch or torch.cuda.is_available() is False); nothing was run" >&2
  exit 1
}
work="$OUT/run"; mkdir -p "$work"
common=(--config "$REPO/configs/lic/bmshj2018-hyperprior.yaml" --trainer.accelerator gpu --trainer.devices 1
  --trainer.max_epochs -1 --trainer.check_val_every_n_epoch 50 --trainer.enable_progress_bar false
  --data.init_args.train.init_args.root "$VIMEO" --data.init_args.val.init_args.root "$VIMEO"
  --data.init_args.val_fraction 0.07 --data.init_args.test.init_args.root "$KODAK" --data.init_args.num_workers 8)
(cd "$work" && python3 -m jpegnn fit "${common[@]}" --trainer.max_steps 800 2>&1 | tail -1)
(cd "$work" && python3 -m jpegnn test "${common[@]}" --ckpt_path checkpoints/bmshj2018-hyperprior/last.ckpt 2>&1 | grep -E "test/" || true)
cp "$(ls -td "$work"/runs/bmshj2018-hyperprior/*/ | head -1)"/per_image.csv "$OUT/check2_per_image.csv"
python3 - "$OUT/check2_per_image.csv" <<'PY'
import csv, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
d = [float(r["decode_max_abs_diff"]) for r in rows]
print(f"{len(rows)} images; decode vs eval-forward max abs diff: max {max(d):.3g}; non-finite: {sum(not math.isfinite(v) for v in d)}")
PY
rm -rf "$work"
cd "$REPO"
B="python3 benchmarks/bench_lic_training.py --device cuda --patch 256 --batch 16 --steps 60 --warmup 15 --rounds 2"
for opts in "" "--precision bf16-mixed" "--precision bf16-mixed --channels-last" "--compile"; do
  $B $opts 2>&1 | grep -E "^round|^plain|^LICModule|^ratio|^contention|^\[cuda"
done
