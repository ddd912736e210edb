#!/usr/bin/env bash
# Issue 7 experiment: a short CPU training of the RDN enhancement filter (RGB mode, 3 blocks x 6
# layers, growth 16, 32 features) on JPEG quality-20 pairs made on the fly from the Vimeo-90k sample
# (16 clips x 7 frames; 2 clips held out for validation), then the PSNR gain on the 24 Kodak images.
# Usage: benchmarks/enhance_jpeg20.sh [OUT_DIR]   (default runs/enhance-jpeg20; ~30 min on 2 cores)
# Results (enhance_results.json, per_image.csv, the training log) are copied to
# benchmarks/results/enhance/.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/enhance-jpeg20}
SHARED=${SHARED:-../shared/datasets}
MINUTES=${MINUTES:-25}
for d in "$SHARED/vimeo-sample/vimeo_septuplet" "$SHARED/kodak"; do
  [ -d "$d" ] || { echo "enhance_jpeg20.sh: $d not found; set SHARED to the folder holding vimeo-sample/ and kodak/ (default ../shared/datasets)" >&2; exit 2; }
done
# one torch thread, low priority: the machine is shared with other experiments
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
ARGS=(
  --config configs/enhance/rdn-rgb-jpeg20.yaml
  --trainer.accelerator=cpu --trainer.devices=1
  --trainer.max_time="00:00:${MINUTES}:00" --trainer.enable_progress_bar=false
  --trainer.log_every_n_steps=10
  --trainer.default_root_dir="$OUT" --trainer.logger.init_args.save_dir="$OUT"
  --trainer.callbacks.init_args.dirpath="$OUT/checkpoints" --trainer.callbacks.init_args.every_n_train_steps=25
  --model.init_args.optimizer.init_args.lr=5.0e-4
  --data.init_args.train.init_args.root="$SHARED/vimeo-sample/vimeo_septuplet"
  --data.init_args.test.init_args.root="$SHARED/kodak"
  --data.init_args.val_fraction=0.125 --data.init_args.val_patch_size=128 --data.init_args.val_batch_size=7
  --data.init_args.train_samples_per_epoch=800 --data.init_args.num_workers=0
)
mkdir -p "$OUT"
start=$(date +%s)
nice -n 10 .venv/bin/jpegnn fit "${ARGS[@]}" 2>&1 | tee "$OUT/fit.log"
mid=$(date +%s)
nice -n 10 .venv/bin/jpegnn test "${ARGS[@]}" --ckpt_path "$OUT/checkpoints/last.ckpt" 2>&1 | tee "$OUT/test.log"
end=$(date +%s)
echo "fit wall time: $((mid - start)) s; test wall time: $((end - mid)) s" | tee "$OUT/wall_time.txt"
