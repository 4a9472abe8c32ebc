#!/usr/bin/env bash
# The README's demo: render the built-in synthetic time-lapse (about two years of webcam frames) and export it as a
# training dataset; re-render it with the shipped demo model (models/demo_128.pkl, docs/DEMO_MODEL.md): a stabilised
# video (one weather, noon, the seasons and the building going on), a time-of-day x season grid beside the real
# frames at the same times, and a year strip; then train a time-conditioned GAN on it. Re-running reuses the
# sequence, the dataset and the pictures, and continues the demo's training run where it stopped (delete
# OUTDIR/runs to start a fresh one).
#   bash scripts/demo.sh [OUTDIR [TRAIN.PY OPTIONS...]]     (default OUTDIR: ./demo, relative to the caller's folder)
#   e.g. bash scripts/demo.sh demo --kimg=4000             (options after OUTDIR go to train.py and win over the demo's)
# On a CUDA machine it trains at 128x128 for 2000 kimg (hours; stop it any time with Ctrl-C and run the same command
# again to continue); on a CPU it trains a tiny 32x32 model for a few minutes, to show the whole pipeline working.
set -euo pipefail
out=demo
if [[ $# -gt 0 && $1 != -* ]]; then out=$1; shift; fi
out=$(mkdir -p -- "$out" && cd -- "$out" && pwd)
cd "$(dirname "$0")/.."

if python -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    res=128; train=(--batch=32 --kimg=2000 --snap=10 --cbase=16384 --cmax=256)
else
    res=32;  train=(--batch=8 --kimg=4 --tick=1 --snap=2 --cbase=1024 --cmax=64 --workers=1)
    echo "No CUDA device: training a tiny ${res}x${res} model on the CPU."
fi

[ -f "$out/sequence/factors.json" ] || python preproc/synth_sequence.py --outdir="$out/sequence" --preset=demo
dataset() { # dataset RES: the sequence's dataset zip at RES x RES, exported once
    local zip
    zip=$(ls "$out"/data/*_${1}x${1}_*hz.zip 2>/dev/null | head -n 1 || true)
    [ -n "$zip" ] || python preproc/process_sequence.py "$out/sequence/frames" --export="$out/data" --resolution="$1" --name=demo > /dev/null
    ls "$out"/data/*_${1}x${1}_*hz.zip | head -n 1
}

# Re-render the sequence with the shipped model; export.py finds the real frames in $out/data by the dataset's name.
dataset 128 > /dev/null
re="$out/rerender"; mkdir -p "$re"
ex=(python export.py --network=models/demo_128.pkl --dataset_root="$out/data")
[ -f "$re/stabilised_noon.mp4" ] || "${ex[@]}" --preset=stabilise --day-hour=12 --frames=365 --fps=30 --out="$re/stabilised_noon.mp4"
[ -f "$re/grid_day_season.jpg" ] || "${ex[@]}" --preset=grid --out="$re/grid_day_season.jpg"
[ -f "$re/grid_day_season_real.jpg" ] || "${ex[@]}" --preset=grid --set show_dataset=true --set gt_tol_hours=3 --out="$re/grid_day_season_real.jpg"
[ -f "$re/strip_year.jpg" ] || "${ex[@]}" --preset=strip --set num_strips=8 --res-scale=2 --out="$re/strip_year.jpg"
echo "Re-rendered with the demo model: $re (stabilised_noon.mp4, grid_day_season.jpg beside grid_day_season_real.jpg, strip_year.jpg)."

data=$(dataset $res)

# An earlier run with a training state is continued, unless the options name another --resume.
if compgen -G "$out/runs/*/training-state-*.pt" > /dev/null && [[ " $* " != *" --resume"* ]]; then
    echo "Continuing the demo run in $out/runs."
    train+=(--resume=latest)
fi
# A SIGTERM to the whole process group (timeout, a scheduler) also reaches train.py, which saves a state before it
# exits: wait for it, then say how to go on.
trap ':' TERM
status=0
python train.py --outdir="$out/runs" --data="$data" --metrics=none "${train[@]}" "$@" || status=$?
if [ "$status" -gt 128 ]; then
    echo "Training was stopped by a signal before the end; run the same command again to continue it." >&2
fi
[ "$status" -eq 0 ] || exit "$status"
echo "Done. Snapshots, grids (reals, time sweeps) and logs are in $out/runs/."
