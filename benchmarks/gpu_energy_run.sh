#!/usr/bin/env bash
# Issue 5's GPU check in one call: energy per decoded Kodak frame of the scale hyperprior decoder
# and its repeatability, `jpegnn profile` with its energy column, and the profiling callbacks
# (energy per training epoch and per test image) in a short fit + test. Writes into $OUT:
#   energy_kodak_hyperprior.json   benchmarks/energy_gpu.py, all runs and per-image values
#   profile_hyperprior_gpu.json    jpegnn profile --size 768x512 (params, GMACs, ms, MB, J/frame)
#   callbacks_energy_fit.json      EnergyCallback's energy.json of the fit
#   callbacks_energy_test.json     EnergyCallback's energy.json of the test
#   gpu_energy_run.log             everything printed
#
#   KODAK=<kodak dir> OUT=<results dir> bash benchmarks/gpu_energy_run.sh
#   DRY=1 KODAK=... OUT=... bash benchmarks/gpu_energy_run.sh   # CPU dry run of the plumbing
#
# On the device tool, one call (../shared does not travel, so Kodak is copied into the ignored .gpu/):
#   here:    bash benchmarks/gpu_wheels.sh && mkdir -p .gpu && cp -r ../shared/datasets/kodak .gpu/
#   device:  carry [".whl", ".gpu"], timeout_s 600, command
#            python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade
#              --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
#              && KODAK=.gpu/kodak OUT=$OUT bash benchmarks/gpu_energy_run.sh
#
# About 4-5 minutes on one H100/H200 (24 images x 2 workloads x 0.5 s x 5 runs of energy_gpu.py,
# the rANS encode of each image first, then profile and a 30-step fit). Run it on an otherwise
# idle GPU: NVML's counter sees every process on the device.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
KODAK=$(realpath "${KODAK:?set KODAK to the Kodak folder}") OUT=$(mkdir -p "${OUT:?set OUT}" && realpath "$OUT")
RUNS=${RUNS:-5} MIN_SECONDS=${MIN_SECONDS:-0.5}
exec > >(tee "$OUT/gpu_energy_run.log") 2>&1
export PYTHONUNBUFFERED=1 PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
cd "$REPO"

if [ -n "${DRY:-}" ]; then  # no GPU: wall time only, 2 images, 2 runs, tiny fit
  energy=(--device cpu --allow-no-energy --limit 2 --runs 2 --min-seconds 0.05 --idle-seconds 0)
  profile=(--device cpu --size 64x64 --repeats 1 --warmup 0)
  fit=(--trainer.accelerator cpu --trainer.max_steps 2 --model.init_args.N 8 --model.init_args.M 12
       --data.init_args.patch_size 64 --data.init_args.batch_size 2)
else
  nvidia-smi --query-gpu=name,driver_version,power.draw,temperature.gpu,utilization.gpu --format=csv
  energy=(--runs "$RUNS" --min-seconds "$MIN_SECONDS" --idle-seconds 2)
  profile=(--device cuda --size 768x512)
  fit=(--trainer.accelerator gpu --trainer.max_steps 30 --data.init_args.patch_size 256 --data.init_args.batch_size 8)
fi

echo "== 1. energy per decoded Kodak frame, hyperprior N=128 M=192 (random weights, seed 0)"
python3 benchmarks/energy_gpu.py --dataset "$KODAK" "${energy[@]}" --json "$OUT/energy_kodak_hyperprior.json"

echo "== 2. jpegnn profile, hyperprior"
python3 -m jpegnn profile --config configs/lic/bmshj2018-hyperprior.yaml "${profile[@]}" \
  --json "$OUT/profile_hyperprior_gpu.json"

echo "== 3. profiling callbacks in a short fit + test (Kodak as training and test data)"
work=$(mktemp -d)
common=(--config "$REPO/configs/lic/bmshj2018-hyperprior.yaml" --config "$REPO/configs/profile/callbacks.yaml"
  --trainer.default_root_dir "$work" --trainer.logger.init_args.save_dir "$work/runs"
  --trainer.enable_progress_bar false --trainer.limit_val_batches 0 --trainer.num_sanity_val_steps 0
  --data.init_args.train.class_path jpegnn.data.ImageFolder --data.init_args.train.init_args.root "$KODAK"
  --data.init_args.val.class_path jpegnn.data.ImageFolder --data.init_args.val.init_args.root "$KODAK"
  --data.init_args.test.class_path jpegnn.data.ImageFolder --data.init_args.test.init_args.root "$KODAK"
  --data.init_args.num_workers 4 "${fit[@]}")
(cd "$work" && python3 -m jpegnn fit "${common[@]}")
for f in $(find "$work/runs" -name energy.json); do cp "$f" "$OUT/callbacks_energy_fit.json"; done
ckpt=$(find "$work" -name last.ckpt | head -1)
(cd "$work" && python3 -m jpegnn test "${common[@]}" --ckpt_path "$ckpt")
newest=$(ls -t $(find "$work/runs" -name energy.json) | head -1)
cp "$newest" "$OUT/callbacks_energy_test.json"
rm -rf "$work"
echo "== done: $(ls "$OUT" | tr '\n' ' ')"
