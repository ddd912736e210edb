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
# benchmarks/results/zoo_pilot.md tabulates fit.log (CPU time), test.log and benchmarks/zoo_curves.py's output.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 2 ] || { echo "usage: $0 NAME MINUTES [jpegnn fit flags...]" >&2; exit 2; }
name=$1; minutes=$2; shift 2
. "$repo/benchmarks/zoo_common.sh"
zoo_setup "$repo/runs/zoo-pilot" "$name"
echo "$name: fit for $minutes min on $threads thread(s): $*" | tee fit.log
# resumes when an earlier run of this pilot left last.ckpt (zoo_setup's ckpt)
/usr/bin/time -v "$jpegnn" fit "${cfg[@]}" "${roots[@]}" "$@" "${ckpt[@]}" \
  --trainer.max_time "00:00:$(printf %02d "$minutes"):00" --trainer.enable_progress_bar false >>fit.log 2>&1
"$jpegnn" test "${cfg[@]}" "${roots[@]}" "$@" --ckpt_path checkpoints/zoo-train/last.ckpt \
  --trainer.enable_progress_bar false >test.log 2>&1
grep -E "test/(bpp_actual|psnr_rgb|ms_ssim_rgb)" test.log | tail -3
