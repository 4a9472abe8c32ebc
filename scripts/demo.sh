#!/usr/bin/env bash
# The README's demo: render the built-in synthetic time-lapse (about two years of webcam frames), export it as a
# training dataset and train a time-conditioned GAN on it. Re-running reuses the sequence and the dataset.
#   bash scripts/demo.sh [OUTDIR]          (default OUTDIR: ./demo)
# On a CUDA machine it trains at 128x128 for 2000 kimg (hours; stop it any time and resume with --resume=latest);
# on a CPU it trains a tiny 32x32 model for a few minutes, to show the whole pipeline working.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-demo}

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
python train.py --outdir="$out/runs" --data="$data" --metrics=none "${train[@]}"
echo "Done. Snapshots, grids (reals, time sweeps) and logs are in $out/runs/."
