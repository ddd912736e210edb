#!/usr/bin/env bash
# Stop zoo training runs cleanly at the end of a session (issue 15): for each run folder, wait until
# its checkpoints/zoo-train/last.ckpt is written again (saves come every 500 steps), record the
# process tree's CPU time (user + system of the run and all its children, live or reaped, from
# /proc) in <run>/cpu.log, then stop the run. benchmarks/zoo_train.sh Q resumes it later.
#
#   benchmarks/zoo_stop.sh [--after-validation] runs/zoo/q1 runs/zoo/q3 ...
#
# --after-validation: wait for the run's next validation (a val/loss step in its event files newer
# than the last one when called) instead of its next save. The save at the end of an epoch comes
# just before that epoch's validation, so a run stopped at a save never logs the validation of the
# weights it saved; stopped after the validation, its last.ckpt holds the weights that validation
# scored, and the curves and the convergence check (zoo_curves.py) see it.
#
# The run is the `jpegnn fit` process whose working folder is RUN_DIR and whose parent is not one
# (DataLoader workers are forks of it, with the same command line and folder).
set -euo pipefail
after_val=0
[ "${1:-}" = "--after-validation" ] && { after_val=1; shift; }
[ $# -ge 1 ] || { echo "usage: $0 [--after-validation] RUN_DIR [RUN_DIR ...]" >&2; exit 2; }
tick=$(getconf CLK_TCK)
repo=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-$repo/.venv/bin/python}; [ -x "$py" ] || py=python3

wait_for_validation() {  # RUN PID: one Python process (tensorboard imported once) polls RUN's event
  # files until a val/loss step newer than the one at the start is there, and prints that step
  "$py" - "$repo/benchmarks" "$1" "$2" "${ZOO_STOP_POLL:-10}" <<'PY'
import sys
import time
from pathlib import Path

sys.path.insert(0, sys.argv[1])
import zoo_curves

run, pid, poll = Path(sys.argv[2]), sys.argv[3], float(sys.argv[4])


def newest() -> int:
    try:
        steps = zoo_curves.read_scalars(run)["val/loss"]
    except zoo_curves.ConfigError:  # no event files yet
        steps = {}
    return max(steps) if steps else -1


start = newest()
print(f"{run}: pid {pid}, waiting for the validation after step {start}", file=sys.stderr, flush=True)
while (step := newest()) <= start:
    time.sleep(poll)
print(step)
PY
}

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
  mine=$(pgrep -f "jpegnn fit" || true)
  for p in $mine; do
    [ "$(readlink "/proc/$p/cwd" 2>/dev/null)" = "$run" ] || continue
    parent=$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null || echo 0)
    grep -qx "$parent" <<< "$mine" && continue  # a DataLoader worker of the run
    pid=$p; break
  done
  [ -n "$pid" ] || { echo "$run: no running jpegnn fit" >&2; continue; }
  ckpt="$run/checkpoints/zoo-train/last.ckpt"
  if [ "$after_val" = 1 ]; then
    v=$(wait_for_validation "$run" "$pid") || { echo "$0: error: could not read the event files of $run" >&2; exit 1; }
    what="the validation at step $v; last.ckpt of $(date -u -d @"$(stat -c %Y "$ckpt" 2>/dev/null || echo 0)" +%TZ)"
  else
    t0=$(stat -c %Y "$ckpt" 2>/dev/null || echo 0)
    echo "$run: pid $pid, waiting for the next save of $ckpt" >&2
    until [ "$(stat -c %Y "$ckpt" 2>/dev/null || echo 0)" -gt "$t0" ]; do sleep 2; done
    sleep 5  # the atomic rename is done; let the save hook return
    what="the save of $(date -u -d @"$(stat -c %Y "$ckpt")" +%TZ)"
  fi
  ticks=$(tree_ticks "$pid")
  secs=$(awk -v t="$ticks" -v k="$tick" 'BEGIN { printf "%.0f", t / k }')
  echo "$(date -u +%FT%TZ) pid $pid cpu_seconds $secs (stopped after $what)" | tee -a "$run/cpu.log"
  kill -TERM "$pid"
done
