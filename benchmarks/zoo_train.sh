#!/usr/bin/env bash
# Train (or resume) one rate of the CPU zoo (issue 15) in the background-friendly way:
#
#   benchmarks/zoo_train.sh QUALITY [extra jpegnn fit flags...]
#   e.g. nohup benchmarks/zoo_train.sh 3 > q3.out 2>&1 &
#
# Runs configs/data/photos.yaml + configs/zoo/mbt2018-mean-cpu.yaml at --model.init_args.quality
# QUALITY in $RUNS/q$QUALITY (default runs/zoo/q$QUALITY), resuming from its
# checkpoints/zoo-train/last.ckpt when one exists (optimizer, aux optimizer, scheduler and step are
# restored), so the same command continues a run killed at the end of a session. Checkpoints every
# 500 steps. Environment: SHARED (default ../shared beside the checkout), RUNS, THREADS (default 1).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 QUALITY [jpegnn fit flags...]" >&2; exit 2; }
q=$1; shift
shared=$(cd "${SHARED:-$repo/../shared}" 2>/dev/null && pwd) || { echo "$0: error: SHARED folder not found: ${SHARED:-$repo/../shared}" >&2; exit 2; }
[ -d "$shared/datasets/photos" ] && [ -d "$shared/datasets/kodak" ] || { echo "$0: error: $shared/datasets/{photos,kodak} not found (set SHARED)" >&2; exit 2; }
runs=$(mkdir -p "${RUNS:-$repo/runs/zoo}" && cd "${RUNS:-$repo/runs/zoo}" && pwd)
threads=${THREADS:-1}
jpegnn=${JPEGNN:-$repo/.venv/bin/jpegnn}
out="$runs/q$q"; mkdir -p "$out"; cd "$out"
export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
ckpt=(); [ -f checkpoints/zoo-train/last.ckpt ] && ckpt=(--ckpt_path checkpoints/zoo-train/last.ckpt)
echo "$(date -u +%FT%TZ) q$q: fit on $threads thread(s) ${ckpt[*]:-(new run)} $*" >> fit.log
exec "$jpegnn" fit --config "$repo/configs/data/photos.yaml" --config "$repo/configs/zoo/mbt2018-mean-cpu.yaml" \
  --data.init_args.train.init_args.root "$shared/datasets/photos" \
  --data.init_args.val.init_args.root "$shared/datasets/photos" \
  --data.init_args.test.init_args.root "$shared/datasets/kodak" \
  --model.init_args.quality "$q" --trainer.enable_progress_bar false "$@" "${ckpt[@]}" >> fit.log 2>&1
