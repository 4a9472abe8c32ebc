#!/usr/bin/env bash
# The training-speed measurements of docs/PERFORMANCE.md on one GPU, in steps that fit the device tool's calls.
#   bash benchmarks/gpu_speed_checks.sh OUTDIR STEP...
# Steps, run in the order given (each writes OUTDIR/<step>.txt):
#   env            GPU, driver, torch
#   tests          the GPU tests of the CUDA graphs (tests/test_step_graphs_gpu.py)
#   alltests       every other GPU test
#   bench RES      bench_train at RES with CUDA graphs (FLOPs counted) and without
#   variants RES   bench_train at RES with graphs and TF32, and with graphs and ADA at p=0.4
#   profile RES    16-step profiles with graphs (kernels) and without (kernels and the operators, with shapes)
#   data           the demo sequence and its 128^2 dataset zip (as gpu_disent_checks.sh setup)
#   real ARGS      bench_train --real-data on that zip (or $DATA_ZIP) with train.py options ARGS (one word, commas for
#                  spaces)
set -u
out=$(mkdir -p "$1" && cd "$1" && pwd); shift
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
work=${DISENT_WORK:-/tmp/tlgan_disent}
bench=(python3 benchmarks/bench_train.py --seconds="${SECONDS_PER_RUN:-15}")
while [ $# -gt 0 ]; do
    step=$1; shift
    case $step in
    env)
        { nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; nproc; date -u;
          python3 -c 'import torch, triton; print("torch", torch.__version__, "cuda", torch.version.cuda, "triton", triton.__version__)'; } > "$out/env.txt" 2>&1;;
    tests)
        python3 -m pytest -q -p no:cacheprovider tests/test_step_graphs_gpu.py > "$out/tests.txt" 2>&1;;
    alltests)
        python3 -m pytest -q -p no:cacheprovider -m gpu tests --ignore=tests/test_step_graphs_gpu.py > "$out/alltests.txt" 2>&1;;
    bench)
        res=$1; shift
        { "${bench[@]}" --res="$res" --flops; "${bench[@]}" --res="$res" --no-graphs; } >> "$out/bench_$res.txt" 2>&1;;
    variants)
        res=$1; shift
        { "${bench[@]}" --res="$res" --tf32; "${bench[@]}" --res="$res" --aug-p=0.4; } >> "$out/bench_$res.txt" 2>&1;;
    profile)
        res=$1; shift
        { "${bench[@]}" --res="$res" --seconds=5 --profile; "${bench[@]}" --res="$res" --seconds=5 --profile --no-graphs; } > "$out/profile_$res.txt" 2>&1;;
    data)
        [ -f "$work/sequence/factors.json" ] || python3 preproc/synth_sequence.py --outdir="$work/sequence" --preset=demo --workers="$(nproc)" > "$out/data.txt" 2>&1
        [ -f "$work/data/demo_128x128_730hz.zip" ] || python3 preproc/process_sequence.py "$work/sequence/frames" --export="$work/data" \
            --resolution=128 --name=demo --workers="$(nproc)" >> "$out/data.txt" 2>&1;;
    real)
        args=$1; shift
        "${bench[@]}" --real-data="${DATA_ZIP:-$work/data/demo_128x128_730hz.zip}" --kimg-real="${KIMG_REAL:-12}" -- ${args//,/ } >> "$out/real.txt" 2>&1;;
    *) echo "unknown step $step" >&2; exit 2;;
    esac
done
