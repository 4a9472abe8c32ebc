"""A render thread for the viewers: runs the latest submitted job off the UI thread and publishes its results.

A job is a callable returning an iterator of (value, progress) pairs: partial results, progress in [0, 1]. Submitting
a job cancels the one in flight (checked between its yields, so one step finishes first) and drops any job still
waiting: only the latest submission runs. The step a cancelled job finished is still published, marked `stale`,
unless a newer job has published already: while a slider is dragged (a new job every frame) the view keeps showing
the newest finished step instead of nothing. The newest result is kept (latest wins) and read with `poll()` or
`latest`; an exception in a job becomes an Update with `error` set and never reaches the caller's thread. No GUI or
render logic here.

    worker = Worker()
    worker.submit(lambda: ((canvas, done / total) for ...), tag=doc)
    update = worker.poll()          # each frame: None, or the newest Update not seen yet
    worker.wait()                   # tests: until the latest job has finished
"""

import dataclasses
import logging
import threading
import traceback

log = logging.getLogger(__name__)

#----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Update:
    """One published result of a job."""
    job: int                    # Id of the job (increasing with each submission).
    tag: object                 # What the submitter attached to the job (e.g. the document being rendered).
    value: object = None        # The job's latest value (None for an error).
    progress: float = 0.0       # 0..1 as the job reported it; 1 once done.
    done: bool = False          # The job has finished; `value` is its last value.
    stale: bool = False         # A newer job was submitted while this value was computed (see Worker).
    error: str = ''             # One-line reason when the job raised.
    serial: int = 0             # Increases with every publication (poll() returns each serial at most once).

    @property
    def partial(self):
        return not self.done

class Worker:
    def __init__(self, name='viz-worker'):
        self._cond = threading.Condition()
        self._pending = None                # (job id, fn, tag) waiting to start.
        self._running = 0                   # Id of the job running now (0: none).
        self._wanted = 0                    # Id of the job that should run; a running job with another id stops.
        self._next_id = 0
        self._latest = None
        self._seen = 0
        self._serial = 0
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    #---
    # Caller's side.

    def submit(self, fn, tag=None):
        """Run fn() (an iterator of (value, progress)) next; cancels the job in flight. Returns the job id."""
        with self._cond:
            if self._closed:
                raise RuntimeError('Worker is closed')
            self._next_id += 1
            self._pending = (self._next_id, fn, tag)
            self._wanted = self._next_id
            self._cond.notify_all()
            return self._next_id

    def cancel(self):
        """Stop the job in flight (after its current step) and drop the waiting one."""
        with self._cond:
            self._pending = None
            self._wanted = 0
            self._cond.notify_all()

    @property
    def latest(self):
        """The newest Update, or None."""
        with self._cond:
            return self._latest

    def poll(self):
        """The newest Update if poll() has not returned it before, else None."""
        with self._cond:
            if self._latest is None or self._latest.serial == self._seen:
                return None
            self._seen = self._latest.serial
            return self._latest

    @property
    def busy(self):
        """A job is running or waiting to run."""
        with self._cond:
            return self._busy()

    def _busy(self):
        return self._pending is not None or self._running != 0

    def _ended(self, job):
        return job != self._running and (self._pending is None or self._pending[0] != job)

    def wait(self, timeout=None, job=None):
        """Block until `job` (default: every submitted job) has ended, finished or cancelled; False on timeout."""
        with self._cond:
            if job is None:
                return self._cond.wait_for(lambda: not self._busy(), timeout)
            return self._cond.wait_for(lambda: self._ended(job), timeout)

    def close(self, timeout=5.0):
        """Cancel everything and stop the thread (waits up to `timeout` for the current step)."""
        with self._cond:
            self._closed = True
            self._pending = None
            self._wanted = 0
            self._cond.notify_all()
        self._thread.join(timeout)

    #---
    # The thread.

    def _loop(self):
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._closed)
                if self._closed:
                    return
                job, fn, tag = self._pending
                self._pending = None
                self._running = job
            try:
                self._run(job, fn, tag)
            finally:
                with self._cond:
                    self._running = 0
                    self._cond.notify_all()

    def _run(self, job, fn, tag):
        value, progress, it = None, 0.0, None
        def publish(stale=False, **kw):
            with self._cond:
                if self._closed or (self._wanted != job and not stale):
                    return False
                if stale and self._latest is not None and self._latest.job > job:
                    return False # something newer is out already
                self._serial += 1
                self._latest = Update(job=job, tag=tag, serial=self._serial, stale=stale, **kw)
                self._cond.notify_all()
                return True
        try:
            it = iter(fn())
            for value, progress in it:
                if not publish(value=value, progress=float(progress)):
                    publish(value=value, progress=float(progress), stale=True)
                    return # cancelled
            publish(value=value, progress=1.0, done=True)
        except Exception as e: # pylint: disable=broad-except # a failing job is reported, never fatal
            log.info('render job %d failed:\n%s', job, traceback.format_exc())
            publish(progress=float(progress), done=True, error=one_line(e))
        finally:
            close = getattr(it, 'close', None)
            if close is not None:
                close() # runs a cancelled generator's finally blocks

def one_line(e):
    """An exception as one line for a status bar. Our own errors (ValueError subclasses) carry whole sentences;
    anything else is prefixed with its type."""
    lines = str(e).strip().splitlines()
    text = lines[0] if lines else ''
    if isinstance(e, ValueError) and text:
        return text
    return f'{type(e).__name__}: {text}' if text else type(e).__name__

#----------------------------------------------------------------------------
