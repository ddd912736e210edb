# Sourced by benchmarks/zoo_pilot.sh and benchmarks/zoo_train.sh (not run by itself).
# zoo_setup DEFAULT_RUNS NAME: checks $SHARED (default ../shared beside the checkout) has the photos
# and Kodak, makes and enters the run folder ${RUNS:-DEFAULT_RUNS}/NAME, sets $OMP_NUM_THREADS from
# $THREADS (default 1), and defines: jpegnn (the command), cfg (the photos + CPU zoo configs), roots
# (the data-root flags) and ckpt (--ckpt_path of the run's last.ckpt when it exists, to resume).
zoo_setup() {
  local default_runs=$1 name=$2
  shared=$(cd "${SHARED:-$repo/../shared}" 2>/dev/null && pwd) || { echo "$0: error: SHARED folder not found: ${SHARED:-$repo/../shared}" >&2; exit 2; }
  [ -d "$shared/datasets/photos" ] && [ -d "$shared/datasets/kodak" ] || { echo "$0: error: $shared/datasets/{photos,kodak} not found (set SHARED)" >&2; exit 2; }
  local runs
  runs=$(mkdir -p "${RUNS:-$default_runs}" && cd "${RUNS:-$default_runs}" && pwd)
  threads=${THREADS:-1}
  jpegnn=${JPEGNN:-$repo/.venv/bin/jpegnn}
  mkdir -p "$runs/$name"; cd "$runs/$name"
  export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
  cfg=(--config "$repo/configs/data/photos.yaml" --config "$repo/configs/zoo/mbt2018-mean-cpu.yaml")
  roots=(--data.init_args.train.init_args.root "$shared/datasets/photos"
         --data.init_args.val.init_args.root "$shared/datasets/photos"
         --data.init_args.test.init_args.root "$shared/datasets/kodak")
  ckpt=(); [ -f checkpoints/zoo-train/last.ckpt ] && ckpt=(--ckpt_path checkpoints/zoo-train/last.ckpt)
  return 0
}
