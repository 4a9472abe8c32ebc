#!/usr/bin/env bash
# The training-speed measurements of docs/PERFORMANCE.md on one GPU, in steps that fit the device tool's calls.
#   bash benchmarks/gpu_speed_checks.sh OUTDIR STEP...
# Steps, run in the order given (each writes OUTDIR/<step>.txt):
#   env            GPU, driver, torch
#   tests          the GPU tests of the CUDA graphs (tests/test_step_graphs_gpu.py)
#   alltests       every other GPU test
#   same           benchmarks/same_results.py: how far TF32, float16 in one more resolution, eager steps and cuDNN's
#                  non-determinism move 48 training steps from the reference's
#   bench RES      bench_train at RES with CUDA graphs (FLOPs counted) and without
#   variants RES   bench_train at RES with graphs and TF32, with graphs and ADA at p=0.4, and with graphs and bf16
#   with RES OPTS  bench_train at RES with graphs and the options OPTS (one word, commas for spaces), e.g. --fp16-res=5
#   microbatch RES N,N..  bench_train at RES with graphs at each micro-batch N (does a larger one pay where memory allows?)
#   profile RES    profiles of $PROFILE_STEPS steps (default 16, one regularisation cycle) with graphs (kernels) and
#                  without (kernels and the operators, with shapes); the tables cost time in proportion to the steps'
#                  events (minutes at 1024 for 16 steps), so use 4 there; $PROFILE_OPTS (one word, commas for spaces)
#                  adds bench_train options to both, e.g. --tf32,--fp16-res=5
#   ops TEXT       benchmarks/bench_ops.py for the ops whose label contains TEXT (e.g. NHWC): kernel against reference
#   augment RES N  benchmarks/bench_augment.py: the ADA pipeline alone at RES, micro-batch N (its parts, modes, padding;
#                  p = $AUG_P, default 0.4), with reflect_warp's kernel and with its reference ops
#   data RES       a dataset zip at RES: up to 256 the demo sequence's (as gpu_disent_checks.sh setup), above it a
#                  60-day sequence rendered at RES (for timing only)
#   real RES ARGS  bench_train --real-data on that zip (or $DATA_ZIP) with train.py options ARGS (one word, commas for
#                  spaces)
#   against TGZ    the steps after it run on the code in the archive TGZ (`git archive REV | gzip`), into OUTDIR/against:
#                  a before-and-after on one machine in one call
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
    same)
        python3 benchmarks/same_results.py > "$out/same_results.txt" 2>&1;;
    alltests)
        python3 -m pytest -q -p no:cacheprovider -m gpu tests --ignore=tests/test_step_graphs_gpu.py > "$out/alltests.txt" 2>&1;;
    bench)
        res=$1; shift
        { "${bench[@]}" --res="$res" --flops; "${bench[@]}" --res="$res" --no-graphs; } >> "$out/bench_$res.txt" 2>&1;;
    variants)
        res=$1; shift
        { "${bench[@]}" --res="$res" --tf32; "${bench[@]}" --res="$res" --aug-p=0.4; "${bench[@]}" --res="$res" --bf16; } >> "$out/bench_$res.txt" 2>&1;;
    with)
        res=$1 opts=$2; shift 2
        "${bench[@]}" --res="$res" ${opts//,/ } >> "$out/bench_$res.txt" 2>&1;;
    microbatch)
        res=$1 sizes=$2; shift 2
        for n in ${sizes//,/ }; do "${bench[@]}" --res="$res" --batch-gpu="$n"; done >> "$out/bench_$res.txt" 2>&1;;
    profile)
        res=$1; shift
        prof=("${bench[@]}" --res="$res" --seconds=5 --profile="${PROFILE_STEPS:-16}")
        opts=${PROFILE_OPTS:-}
        { "${prof[@]}" ${opts//,/ }; "${prof[@]}" ${opts//,/ } --no-graphs; } > "$out/profile_$res.txt" 2>&1;;
    ops)
        python3 benchmarks/bench_ops.py --out="$out/ops_$1.md" --overwrite --reps=20 --only="$1" > /dev/null 2>&1; shift;;
    augment)
        res=$1 n=$2; shift 2
        for kernel in --warp-kernel --no-warp-kernel; do
            python3 benchmarks/bench_augment.py --res="$res" --batch="$n" ${AUG_P:+--p="$AUG_P"} $kernel
        done >> "$out/augment.txt" 2>&1;;
    data)
        res=$1; shift
        seq=$work/sequence opts=()
        [ "$res" -gt 256 ] && seq=$work/sequence_$res opts=(--days=60 --size="${res}x$res")
        [ -f "$seq/factors.json" ] || python3 preproc/synth_sequence.py --outdir="$seq" --preset=demo "${opts[@]}" --workers="$(nproc)" >> "$out/data.txt" 2>&1
        ls "$work"/data/demo_"${res}x$res"_*.zip > /dev/null 2>&1 || python3 preproc/process_sequence.py "$seq/frames" --export="$work/data" \
            --resolution="$res" --name=demo --workers="$(nproc)" >> "$out/data.txt" 2>&1;;
    real)
        res=$1 args=$2; shift 2
        zip=${DATA_ZIP:-$(ls "$work"/data/demo_"${res}x$res"_*.zip | head -n 1)}
        "${bench[@]}" --real-data="$zip" --kimg-real="${KIMG_REAL:-12}" -- ${args//,/ } >> "$out/real.txt" 2>&1;;
    against)
        code=$(mktemp -d) && tar -xzf "$1" -C "$code" || exit 2
        shift
        [ -n "${DATA_ZIP:-}" ] && DATA_ZIP=$(realpath "$DATA_ZIP") && export DATA_ZIP
        cd "$code" && PYTHONPATH=$code bash benchmarks/gpu_speed_checks.sh "$out/against" "$@"
        exit;;
    *) echo "unknown step $step" >&2; exit 2;;
    esac
done
