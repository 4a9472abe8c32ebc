#!/usr/bin/env bash
# The GPU checks behind docs/PERFORMANCE.md and the GPU-marked tests, in one run of under 10 minutes on one GPU.
# Each step has its own time limit, so one slow step cannot starve the others; results go to OUTDIR.
#   bash benchmarks/gpu_checks.sh [OUTDIR]
set -u
out=$(mkdir -p "${1:-gpu_checks}" && cd "${1:-gpu_checks}" && pwd) # relative to the caller's folder
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/env.txt"
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' >> "$out/env.txt"
step() { # step SECONDS FILE COMMAND...: run with a time limit, keep the output, say how it ended
    local limit=$1 file=$2; shift 2
    timeout "$limit" "$@" > "$out/$file" 2>&1
    echo "$file: exit $? ($(tail -n 1 "$out/$file"))"
}
# The GPU tests as four processes at once (kernel compilation is CPU-bound): one per precision of the op tests, one
# for all other test files. Together they run every GPU test once.
pytest_gpu="python3 -m pytest -q -p no:cacheprovider -m gpu"
step 300 gpu_tests_fp32.txt  $pytest_gpu tests/test_ops_gpu.py -k 'fp32 or falls_back' &
step 300 gpu_tests_fp16.txt  $pytest_gpu tests/test_ops_gpu.py -k fp16 &
step 300 gpu_tests_bf16.txt  $pytest_gpu tests/test_ops_gpu.py -k bf16 &
step 300 gpu_tests_rest.txt  $pytest_gpu tests/ --ignore=tests/test_ops_gpu.py &
wait
step 100 bench_ops.txt    python3 benchmarks/bench_ops.py --out "$out/bench_ops.md" --reps 20 --overwrite
step 80  bench_128.md     python3 benchmarks/bench_train.py --res 128 --seconds 15 --warmup 8
step 70  bench_256.md     python3 benchmarks/bench_train.py --res 256 --seconds 15 --warmup 8
step 130 bench_1024.md    python3 benchmarks/bench_train.py --res 1024 --seconds 15 --warmup 3
