#!/usr/bin/env bash
# The README's demo: render the built-in synthetic time-lapse (about two years of webcam frames), export it as a
# training dataset and train a time-conditioned GAN on it. Re-running reuses the sequence and the dataset, and
# continues the demo's training run where it stopped (delete OUTDIR/runs to start a fresh one).
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
data=$(ls "$out"/data/*_${res}x${res}_*hz.zip 2>/dev/null | head -n 1 || true)
if [ -z "$data" ]; then
    python preproc/process_sequence.py "$out/sequence/frames" --export="$out/data" --resolution=$res --name=demo
    data=$(ls "$out"/data/*_${res}x${res}_*hz.zip | head -n 1)
fi

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
