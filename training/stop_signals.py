"""Stopping on SIGTERM / SIGINT: the training loop finishes its step, saves a snapshot and a training state, and
returns. DataLoader workers leave the signals to the main process."""

import signal
import threading
import time

import torch

#----------------------------------------------------------------------------

class GracefulStop:
    """While active, SIGTERM and SIGINT only set a flag. A second SIGINT interrupts at once, unless it follows the
    first within a second (Ctrl-C reaches a process both from the terminal and forwarded by train.py's launcher)."""

    def __init__(self):
        self.signum = None
        self.time = None
        self.previous = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                self.previous[signum] = signal.signal(signum, self._handle)

    def _handle(self, signum, _frame):
        if self.signum is not None:
            if signum == signal.SIGINT and time.time() - self.time > 1:
                raise KeyboardInterrupt
            return
        self.signum = signum
        self.time = time.time()
        print(f'\nReceived {signal.Signals(signum).name}: stopping after this step and saving the training state...', flush=True)

    def requested(self, device, world_size):
        """True on every rank if any rank got a signal (collective when world_size > 1)."""
        flag = self.signum is not None
        if world_size > 1:
            flag = torch.tensor([float(flag)], device=device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            flag = bool(flag.item())
        return flag

    def restore(self):
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)

def leave_stop_signals_to_main(_worker_id):
    """DataLoader worker_init_fn: ignore SIGTERM/SIGINT. A signal sent to the whole process group (timeout, SLURM,
    Ctrl-C) must not kill the workers under the main process while it finishes its step and saves the training
    state. They still exit with the main process (the DataLoader shuts them down, or their watchdog sees the parent
    gone)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

#----------------------------------------------------------------------------
