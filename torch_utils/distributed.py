"""One process per GPU, however it was launched: alone, by torchrun, by SLURM's srun, or by launch_local().

init() reads the launcher's environment and joins the process group (NCCL with CUDA, gloo without); with no launcher
variables it stays a single process without any group, and every helper below still works.
"""

import os
import shutil
import socket
import subprocess
import sys

import torch

#----------------------------------------------------------------------------

_local_rank = 0
_device = None

def _multicast_off():
    # NVLink multicast (NVLS) can take the shared GPUs of some hosts out of service; set these variables to opt in.
    os.environ.setdefault('NCCL_NVLS_ENABLE', '0')
    os.environ.setdefault('TORCH_SYMM_MEM_DISABLE_MULTICAST', '1')
    os.environ.setdefault('NVSHMEM_DISABLE_NVLS', '1')

def _slurm_master_addr():
    """Host of SLURM task 0: the first node of the allocation (or the launch node's address as a fallback)."""
    nodelist = os.environ.get('SLURM_JOB_NODELIST') or os.environ.get('SLURM_NODELIST')
    if nodelist and shutil.which('scontrol'):
        command = ['scontrol', 'show', 'hostnames', nodelist]
        hosts = subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()
        if hosts:
            return hosts[0]
    if 'SLURM_LAUNCH_NODE_IPADDR' in os.environ:
        return os.environ['SLURM_LAUNCH_NODE_IPADDR']
    raise RuntimeError('Cannot find the master node of this SLURM job: set MASTER_ADDR')

def _launch_env():
    """(rank, world_size, local_rank) from torchrun or SLURM variables, filling MASTER_ADDR/MASTER_PORT defaults."""
    env = os.environ
    if 'RANK' in env and 'WORLD_SIZE' in env: # torchrun, launch_local(), or set by hand
        rank, world_size, local_rank = int(env['RANK']), int(env['WORLD_SIZE']), int(env.get('LOCAL_RANK', '0'))
        if world_size > 1:
            env.setdefault('MASTER_ADDR', 'localhost')
            env.setdefault('MASTER_PORT', '29500')
    elif 'SLURM_PROCID' in env and 'SLURM_NTASKS' in env: # srun
        rank, world_size = int(env['SLURM_PROCID']), int(env['SLURM_NTASKS'])
        local_rank = int(env.get('SLURM_LOCALID', '0'))
        if world_size > 1:
            if 'MASTER_ADDR' not in env:
                env['MASTER_ADDR'] = _slurm_master_addr()
            job_port = 20000 + int(env.get('SLURM_JOB_ID', '0')) % 10000 # jobs sharing a node get different ports
            env.setdefault('MASTER_PORT', str(job_port))
    else:
        rank, world_size, local_rank = 0, 1, 0
    if not 0 <= rank < world_size:
        raise ValueError(f'Invalid launch environment: rank {rank} for world size {world_size}')
    return rank, world_size, local_rank

#----------------------------------------------------------------------------

def init():
    """Join the process group described by the environment and pick this process's device (idempotent)."""
    global _local_rank, _device
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return
    _multicast_off()
    rank, world_size, local_rank = _launch_env()
    if torch.cuda.is_available():
        _device = torch.device('cuda', local_rank % torch.cuda.device_count()) # srun may show each task one GPU only
        torch.cuda.set_device(_device)
    else:
        _device = torch.device('cpu')
    _local_rank = local_rank
    if world_size > 1:
        backend = 'nccl' if _device.type == 'cuda' else 'gloo'
        torch.distributed.init_process_group(backend, init_method='env://', rank=rank, world_size=world_size,
            device_id=_device if backend == 'nccl' else None)

def _grouped():
    return torch.distributed.is_available() and torch.distributed.is_initialized()

def get_rank():
    return torch.distributed.get_rank() if _grouped() else 0

def get_world_size():
    return torch.distributed.get_world_size() if _grouped() else 1

def get_local_rank():
    return _local_rank

def device():
    """This process's device: its CUDA device after init(), else the current CUDA device or the CPU."""
    if _device is not None:
        return _device
    return torch.device('cuda', torch.cuda.current_device()) if torch.cuda.is_available() else torch.device('cpu')

def is_main():
    return get_rank() == 0

def print0(*args, **kwargs):
    """print() on rank 0 only."""
    if is_main():
        print(*args, **kwargs)

def barrier():
    if get_world_size() > 1:
        torch.distributed.barrier()

def broadcast_object(obj, src=0):
    """Rank `src`'s (picklable) `obj` on every rank."""
    if get_world_size() == 1:
        return obj
    objects = [obj]
    torch.distributed.broadcast_object_list(objects, src=src)
    return objects[0]

def shutdown(barrier=True):
    """Leave the process group. The barrier keeps a rank that finished early from tearing down its connections while
    another rank still uses them (gloo aborts the process on the other side). After an error, pass barrier=False:
    the other ranks may never arrive, and this process should exit so that the launcher can stop them."""
    if _grouped():
        if barrier:
            torch.distributed.barrier()
        torch.distributed.destroy_process_group()

#----------------------------------------------------------------------------
# Several processes on this machine without torchrun (train.py --gpus=N).

def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]

def _local_worker(local_rank, fn, num_procs, port, args):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK=str(local_rank), LOCAL_RANK=str(local_rank),
        WORLD_SIZE=str(num_procs), LOCAL_WORLD_SIZE=str(num_procs))
    _multicast_off()
    fn(*args)
    exit_now() # errors never get here: they propagate to the launcher

def exit_now(status=0):
    """End a rank whose work is done without the interpreter's and libraries' exit-time destructors, where gloo's
    threads can still abort a finished process (seen: SIGABRT in 1 of ~10 two-process runs)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)

def launch_local(fn, num_procs, *args):
    """Run fn(*args) in `num_procs` fresh processes ('spawn') that see a torchrun-like environment; fn calls init().

    fn must be picklable (a module-level function). Returns when all finish; a failure in any raises here.
    """
    if num_procs < 1:
        raise ValueError(f'launch_local() needs num_procs >= 1, got {num_procs}')
    torch.multiprocessing.start_processes(_local_worker, args=(fn, num_procs, _free_port(), args), nprocs=num_procs,
        join=True, start_method='spawn')

#----------------------------------------------------------------------------
