#!/usr/bin/env bash
# Zoo pilot (issue 15): train one candidate recipe for a fixed CPU time on the photos set, then test it
# on the 24 Kodak images with real rANS bitstreams. Candidates run side by side, one thread each, so
# each gets the same CPU time (one core for MINUTES minutes).
#
#   benchmarks/zoo_pilot.sh NAME MINUTES [extra jpegnn fit flags...]
#   e.g. benchmarks/zoo_pilot.sh n64m96-c128-lr1e-3 20
#        benchmarks/zoo_pilot.sh n128m192-c128-lr1e-3 20 --model.init_args.N 128 --model.init_args.M 192
#
# Environment: SHARED (default ../shared beside the checkout), RUNS (default runs/zoo-pilot),
# THREADS (default 1). Output: $RUNS/NAME/{fit.log,test.log,checkpoints/,runs/zoo/version_*/results.json}.
# benchmarks/zoo_pilot_table.py turns the finished runs into benchmarks/results/zoo_pilot.md.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 2 ] || { echo "usage: $0 NAME MINUTES [jpegnn fit flags...]" >&2; exit 2; }
name=$1; minutes=$2; shift 2
shared=$(cd "${SHARED:-$repo/../shared}" 2>/dev/null && pwd) || { echo "$0: error: SHARED folder not found: ${SHARED:-$repo/../shared}" >&2; exit 2; }
[ -d "$shared/datasets/photos" ] && [ -d "$shared/datasets/kodak" ] || { echo "$0: error: $shared/datasets/{photos,kodak} not found (set SHARED)" >&2; exit 2; }
runs=$(mkdir -p "${RUNS:-$repo/runs/zoo-pilot}" && cd "${RUNS:-$repo/runs/zoo-pilot}" && pwd)
threads=${THREADS:-1}
jpegnn=${JPEGNN:-$repo/.venv/bin/jpegnn}
out="$runs/$name"; mkdir -p "$out"; cd "$out"
roots=(--data.init_args.train.init_args.root "$shared/datasets/photos"
       --data.init_args.val.init_args.root "$shared/datasets/photos"
       --data.init_args.test.init_args.root "$shared/datasets/kodak")
cfg=(--config "$repo/configs/data/photos.yaml" --config "$repo/configs/zoo/mbt2018-mean-cpu.yaml")
export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
echo "$name: fit for $minutes min on $threads thread(s): $*" | tee fit.log
# resume when an earlier run of this pilot left last.ckpt
ckpt=(); [ -f checkpoints/zoo-train/last.ckpt ] && ckpt=(--ckpt_path checkpoints/zoo-train/last.ckpt)
/usr/bin/time -v "$jpegnn" fit "${cfg[@]}" "${roots[@]}" "$@" "${ckpt[@]}" \
  --trainer.max_time "00:00:$(printf %02d "$minutes"):00" --trainer.enable_progress_bar false >>fit.log 2>&1
"$jpegnn" test "${cfg[@]}" "${roots[@]}" "$@" --ckpt_path checkpoints/zoo-train/last.ckpt \
  --trainer.enable_progress_bar false >test.log 2>&1
grep -E "test/(bpp_actual|psnr_rgb|ms_ssim_rgb)" test.log | tail -3
