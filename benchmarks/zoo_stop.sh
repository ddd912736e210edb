#!/usr/bin/env bash
# Stop zoo training runs cleanly at the end of a session (issue 15): for each run folder, wait until
# its checkpoints/zoo-train/last.ckpt is written again (saves come every 500 steps), record the
# process tree's CPU time (user + system of the run and all its children, live or reaped, from
# /proc) in <run>/cpu.log, then stop the run. benchmarks/zoo_train.sh Q resumes it later.
#
#   benchmarks/zoo_stop.sh runs/zoo/q1 runs/zoo/q3 ...
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 RUN_DIR [RUN_DIR ...]" >&2; exit 2; }
tick=$(getconf CLK_TCK)

tree_ticks() {  # total utime+stime (+ reaped children's) of PID and its live descendants, in clock ticks
  local pid=$1 total=0 child
  read -r -a f < <(sed 's/^.*) //' "/proc/$pid/stat")  # fields after the command name: f[11]=utime
  total=$(( f[11] + f[12] + f[13] + f[14] ))
  for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
    total=$(( total + $(tree_ticks "$child") ))
  done
  echo "$total"
}

for run in "$@"; do
  run=$(cd "$run" && pwd) || { echo "$0: error: run folder not found: $run" >&2; exit 2; }
  pid=""
  for p in $(pgrep -f "jpegnn fit" || true); do
    [ "$(readlink "/proc/$p/cwd" 2>/dev/null)" = "$run" ] && { pid=$p; break; }
  done
  [ -n "$pid" ] || { echo "$run: no running jpegnn fit" >&2; continue; }
  ckpt="$run/checkpoints/zoo-train/last.ckpt"
  t0=$(stat -c %Y "$ckpt" 2>/dev/null || echo 0)
  until [ "$(stat -c %Y "$ckpt" 2>/dev/null || echo 0)" -gt "$t0" ]; do sleep 2; done
  sleep 5  # the atomic rename is done; let the save hook return
  ticks=$(tree_ticks "$pid")
  secs=$(awk -v t="$ticks" -v k="$tick" 'BEGIN { printf "%.0f", t / k }')
  echo "$(date -u +%FT%TZ) pid $pid cpu_seconds $secs (stopped after the save of $(date -u -d @"$(stat -c %Y "$ckpt")" +%TZ))" | tee -a "$run/cpu.log"
  kill -TERM "$pid"
done
