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
. "$repo/benchmarks/zoo_common.sh"
zoo_setup "$repo/runs/zoo" "q$q"
echo "$(date -u +%FT%TZ) q$q: fit on $threads thread(s) ${ckpt[*]:-(new run)} $*" >> fit.log
exec "$jpegnn" fit "${cfg[@]}" "${roots[@]}" --model.init_args.quality "$q" --trainer.enable_progress_bar false "$@" "${ckpt[@]}" >> fit.log 2>&1
