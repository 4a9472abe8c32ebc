#!/usr/bin/env bash
# The multi-GPU checks (2 GPUs of one host), in one run of under 10 minutes; results and logs go to OUTDIR:
#   1. the synthetic demo sequence, rendered and exported at 256^2 on the host's CPUs;
#   2. throughput at the same total batch (32, ADA off): train.py on one GPU, then torchrun on two;
#   3. identical weights on both ranks (the per-rank checksums the loop prints at the end);
#   4. a two-GPU run (train.py --gpus=2) stopped with SIGTERM continues with --resume=latest where it stopped.
#   bash benchmarks/multi_gpu_checks.sh [OUTDIR]
set -u
out=$(mkdir -p "${1:-multi_gpu_checks}" && cd "${1:-multi_gpu_checks}" && pwd) # relative to the caller's folder
cd "$(dirname "$0")/.."
work=$(mktemp -d)
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 # NVLink multicast stays off on the lent machines
nvidia-smi --query-gpu=index,name,memory.total --format=csv > "$out/env.txt"

python3 preproc/synth_sequence.py --outdir="$work/seq" --preset=demo --workers="$(nproc)" > "$out/synth.txt" 2>&1
python3 preproc/process_sequence.py "$work/seq/frames" --export="$work/data" --resolution=256 --name=demo \
    > "$out/export.txt" 2>&1
data=$(ls "$work"/data/demo_256x256_*hz.zip) || { echo "export failed: $out/export.txt"; exit 1; }
common=(--data="$data" --batch=32 --metrics=none --aug=noaug --tick=2 --workers=4)
torchrun2=(torchrun --standalone --nproc-per-node=2 train.py)

CUDA_VISIBLE_DEVICES=0 timeout 200 python3 train.py --outdir="$work/one" --gpus=1 "${common[@]}" --kimg=12 --snap=100 \
    > "$out/train_1gpu.txt" 2>&1
nvidia-smi --query-gpu=index,utilization.gpu,memory.used --format=csv,noheader -l 5 > "$out/gpu_util_2gpu.txt" &
monitor=$!
timeout 200 "${torchrun2[@]}" --outdir="$work/two" "${common[@]}" --kimg=12 --snap=100 > "$out/train_2gpu.txt" 2>&1
kill $monitor

# Resume: snapshots every tick; SIGTERM once 6 kimg are done, then --resume=latest for 4 kimg more.
timeout 200 python3 train.py --gpus=2 --outdir="$work/resume" "${common[@]}" --kimg=100 --snap=1 > "$out/resume_a.txt" 2>&1 &
launcher=$!
until grep -qE '^tick [3-9] ' "$out/resume_a.txt" || ! kill -0 $launcher 2>/dev/null; do sleep 2; done
kill -TERM $launcher; wait $launcher
stopped=$(grep -oE 'Stopped by a signal at [0-9.]+' "$out/resume_a.txt" | grep -oE '[0-9.]+$')
timeout 150 python3 train.py --gpus=2 --outdir="$work/resume" "${common[@]}" --kimg="$(python3 -c "print(${stopped:-0} + 4)")" \
    --snap=1 --resume=latest > "$out/resume_b.txt" 2>&1

python3 - "$out" "$work" "${stopped:-none}" <<'EOF' | tee "$out/summary.txt"
import glob, json, os, re, statistics, sys
out, work, stopped = sys.argv[1:]
def sec_per_kimg(log): # median over the ticks after the first two (start-up, cuDNN autotuning)
    ticks = [float(m) for m in re.findall(r'^tick \d+ .*?sec/kimg\s+([0-9.]+)', open(log).read(), re.M)]
    return statistics.median(ticks[2:]) if len(ticks) > 2 else float('nan')
one, two = sec_per_kimg(f'{out}/train_1gpu.txt'), sec_per_kimg(f'{out}/train_2gpu.txt')
print(f'256^2, batch 32, ADA off: 1 GPU {one:.2f} s/kimg, 2 GPUs {two:.2f} s/kimg, speed-up {one / two:.2f}x')
for name in ('two', 'resume'):
    for log in sorted(glob.glob(f'{work}/{name}/*/log.txt')):
        sums = [json.loads(l[len('Rank checksums: '):]) for l in open(log) if l.startswith('Rank checksums: ')]
        same = bool(sums) and all(s == sums[-1][0] for s in sums[-1])
        print(f'{os.path.basename(os.path.dirname(log))}: ranks identical at the end: {same}')
resumed = re.search(r'Resuming training state .* at ([0-9.]+) kimg', open(f'{out}/resume_b.txt').read())
print(f'resume: stopped at {stopped} kimg, resumed at {resumed.group(1) if resumed else "none"} kimg')
EOF
rm -rf "$work"
