#!/usr/bin/env bash
# The GPU figures of the renderer, exporter and viewers, plus a short 128^2 training run on the demo sequence whose
# snapshot makes the pictures of docs/EXPORT.md, in one run of under 10 minutes on one GPU. Results go to OUTDIR.
#   bash benchmarks/gpu_render_checks.sh OUTDIR [TRAIN_SECONDS] [STEPS]
# STEPS: any of "bench train" (default both). Everything is packed into OUTDIR/results.tgz (the device tool brings
# back only a few files).
set -u
out=$(mkdir -p "${1:-gpu_render}" && cd "${1:-gpu_render}" && pwd)
train_s=${2:-270}
steps=${3:-bench train}
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0
work=$(mktemp -d)

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/env.txt"
python3 -c 'import torch, imageio_ffmpeg; print("torch", torch.__version__, "cuda", torch.version.cuda, "ffmpeg", imageio_ffmpeg.get_ffmpeg_version())' >> "$out/env.txt"
nproc >> "$out/env.txt"
step() { # step SECONDS FILE COMMAND...: run with a time limit, keep the output, say how it ended
    local limit=$1 file=$2; shift 2
    timeout -s TERM "$limit" "$@" > "$out/$file" 2>&1
    echo "$file: exit $? ($(tail -n 1 "$out/$file" | cut -c1-200))"
}

# 1. Renderer / exporter / viewer speed with fresh generators of the default capacity.
bench="python3 benchmarks/bench_render.py --log $out/bench_render.jsonl"
if [[ $steps == *bench* ]]; then
    step 90 bench_256.txt  $bench --res 256 --what export,grid,frame --frames 1024 --batch 32
    step 90 bench_512.txt  $bench --res 512 --what export --frames 1024 --batch 32
    step 90 bench_1024.txt $bench --res 1024 --what grid,frame --batch 8
fi
[[ $steps == *train* ]] || { tar -C "$out" -czf "$work/results.tgz" . && find "$out" -mindepth 1 -delete && mv "$work/results.tgz" "$out/"; exit 0; }

# 2. The demo sequence at 128^2 and a short training run (SIGTERM ends it with a snapshot).
step 90 synth.txt python3 preproc/synth_sequence.py --outdir="$work/sequence" --preset=demo --workers=$(nproc)
step 60 dataset.txt python3 preproc/process_sequence.py "$work/sequence/frames" --export="$work/data" --resolution=128 --name=demo --workers=$(nproc)
data=$(ls "$work"/data/*.zip | head -n 1)
step "$train_s" train.txt python3 train.py --outdir="$work/runs" --data="$data" --batch=32 --cbase=16384 --cmax=256 \
    --metrics=none --kimg=100000 --tick=4 --snap=1000 --workers=4
pkl=$(ls "$work"/runs/*/network-snapshot-*.pkl | tail -n 1)
echo "snapshot: $pkl" >> "$out/env.txt"

# 3. Pictures and videos of the trained snapshot, through export.py (the dataset is found for the real timestamps).
pics="$work/pics"; mkdir -p "$pics"
ex="python3 export.py --network=$pkl --dataset_root=$work/data"
step 60 ex_grid.txt    $ex --preset=grid --out="$pics/grid_day_year.jpg"
step 60 ex_real.txt    $ex --preset=grid --out="$pics/grid_day_year_real.jpg" --set show_dataset=true --set gt_tol_hours=3
step 60 ex_strip.txt   $ex --preset=strip --out="$pics/strip_year.jpg" --res-scale=2 --set num_strips=8
step 60 ex_strip2.txt  $ex --preset=strip --out="$pics/strip_day.jpg" --res-scale=2 --set axis_x=day
step 60 ex_trend.txt   $ex --preset=grid --out="$pics/grid_trend_year.jpg" --set axis_x=lin --set axis_y=year --set H=4
step 90 ex_stable.txt  $ex --preset=stabilise --out="$pics/stable_noon.mp4" --day-hour=12 --frames=730 --fps=30
step 90 ex_follow.txt  $ex --preset=stabilise --out="$pics/stable_follow.mp4" --frames=730 --fps=30
step 60 ex_sweep.txt   $ex --preset=sweep --out="$pics/sweep_day.mp4" --fps=24
step 60 ex_still.txt   python3 export.py "$pics/stable_noon.mp4" --dataset_root="$work/data" --out="$pics/stable_noon_frame365.png" --set video_i=365
step 60 bench_128.txt  $bench --network "$pkl" --what export --frames 1024 --batch 32
cp "$work"/runs/*/log.txt "$out/train_log.txt" 2>/dev/null
ls "$work"/runs/*/*.jpg | tail -n 1 | xargs -I{} cp {} "$pics/"
cp "$work"/runs/*/stats.jsonl "$pics/" 2>/dev/null
tar -C "$work" -czf "$out/pics.tgz" pics
tar -C "$out" -czf "$work/results.tgz" . && find "$out" -mindepth 1 -delete && mv "$work/results.tgz" "$out/"
du -sh "$out"/*
