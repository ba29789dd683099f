"""The distributed client and its workers: bounded waits, and the checks tasks run.

Shared by the Dask row source (``_dask_rows.py``) and the handling of Dask collections
(``distributed.py``), which both import it and nothing of each other.
"""

import contextlib
import time
import warnings

import numpy as np

from . import _tuning

__all__ = ["Cluster", "checked_targets", "client", "no_worker_timeout", "quiet_graphs"]


def client():
    """The distributed client that Dask would compute with now, or None (local threads).

    Dask's own choice: the default client, unless ``dask.config.set(scheduler=...)``
    names another scheduler (``"threads"`` fits on this machine's threads).
    """
    try:
        from dask.base import get_scheduler
        from distributed import Client
    except ImportError:
        return None
    current = getattr(get_scheduler(), "__self__", None)
    return current if isinstance(current, Client) else None


def no_worker_timeout():
    """Seconds a distributed fit waits without a worker that can work, then raises."""
    import dask

    return float(
        dask.config.get("skmultinomial.no-worker-timeout", _tuning.SETTINGS.dask_no_worker_timeout)
    )


@contextlib.contextmanager
def quiet_graphs():
    """Silence distributed's "Sending large graph" warning: in-memory targets travel in
    the tasks on purpose (a lost chunk is rebuilt from its task alone)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sending large graph")
        yield


def checked_targets(y, s, n_rows, dtype, index):
    """A piece of targets and weights checked as ``validate_data`` checks them whole."""
    from sklearn.utils.validation import _check_sample_weight, check_array

    where = f" (in row chunk {index})"
    if n_rows == 0:  # an empty chunk: scikit-learn's checks refuse 0 rows
        y = np.asarray(y)
        return (y.ravel() if y.ndim == 2 and y.shape[1] == 1 else y), np.ones(0, dtype=dtype)
    try:
        y = check_array(
            y,
            ensure_2d=False,
            dtype=None,
            input_name="y",
            ensure_min_samples=0,
            accept_sparse="csr",
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if y.shape[0] != n_rows:
            raise ValueError(
                "Found input variables with inconsistent numbers of samples: "
                f"[{n_rows}, {y.shape[0]}]"
            )
        s = _check_sample_weight(s, np.empty((n_rows, 0)), dtype=dtype, ensure_non_negative=True)
    except ValueError as exc:
        raise ValueError(f"{exc}{where}") from None
    return y, s


def _worker_threads(dask_scheduler):
    """``{(address, process id): threads}`` of the workers, read on the scheduler."""
    return {
        (address, getattr(ws, "server_id", None) or getattr(ws, "pid", None)): ws.nthreads
        for address, ws in dask_scheduler.workers.items()
    }


def _worker_states(dask_scheduler):
    """``{(address, process id): status}`` of the workers ("running", "paused", ...),
    read on the scheduler; a worker its nanny restarted keeps its address, not its id."""
    return {
        (address, getattr(ws, "server_id", None) or getattr(ws, "pid", None)): ws.status.name
        for address, ws in dask_scheduler.workers.items()
    }


class Cluster:
    """Bounded waits on a distributed client: raise rather than hang (module docstring)."""

    def __init__(self, client):
        self.client = client
        self.departed = 0  # workers lost so far
        self.known = set(client.run_on_scheduler(_worker_states))

    def wait(self, futures):
        """Wait for futures; raise rather than hang when the cluster cannot work."""
        from distributed import wait

        stalled_since = None
        while True:
            try:
                wait(futures, timeout=1.0)
                break
            except TimeoutError:
                pass
            stalled_since = self._check(stalled_since)
        _raise_failures(futures)

    def wait_for_workers(self):
        """Wait until a worker can work, within the no-worker timeout."""
        stalled_since = None
        while True:
            stalled_since = self._check(stalled_since)
            if stalled_since is None:
                return
            time.sleep(0.5)

    def _check(self, stalled_since):
        """One look at the workers: raise when the fit cannot go on; return since when
        no worker could work (None: one can)."""
        timeout = no_worker_timeout()
        states = self.client.run_on_scheduler(_worker_states)
        current = set(states)
        self.departed += len(self.known - current)  # lost (or restarted) since last look
        self.known = current
        if self.departed > max(6, 3 * len(current)):
            raise RuntimeError(
                f"The Dask workers kept dying during the fit ({self.departed} lost or "
                "restarted): they may be too small for the chunks of X (their memory "
                "limit), or a chunk kills them. The fit is abandoned."
            )
        if any(status == "running" for status in states.values()):
            return None
        stalled_since = stalled_since or time.monotonic()
        if time.monotonic() - stalled_since > timeout:
            raise RuntimeError(_stall_message(states, timeout, self.departed))
        return stalled_since


def _stall_message(states, timeout, departed=0):
    if not states and departed:
        return (
            f"The Dask cluster has had no workers for {timeout:g} s during the fit, after "
            f"{departed} left or died: scaled down, or too small for the chunks of X "
            "(their memory limit), or killed by a chunk. The fit is abandoned."
        )
    if not states:
        return (
            f"The Dask cluster has had no workers for {timeout:g} s during the fit: start "
            "workers, or fit in memory."
        )
    return (
        f"Every Dask worker has been paused for {timeout:g} s (above its memory pause "
        "threshold): the chunks of X do not fit in the workers' memory. Give the workers "
        "more memory or add workers, or fit on fewer rows."
    )


def _raise_failures(futures):
    """The first failed future's error: ours as it is, the cluster's as RuntimeError."""
    for future in futures:  # an error first: a cancelled dependent is only its echo
        if future.status == "error":
            exc = future.exception()
            if isinstance(exc, ValueError):
                raise exc
            raise RuntimeError(
                f"A task of the distributed fit failed ({type(exc).__name__}: {exc}); the "
                "chunks of X could not be evaluated, for instance because workers kept "
                "dying. The fit is abandoned."
            ) from exc
    for future in futures:
        if future.status in ("cancelled", "lost"):
            raise RuntimeError(
                f"A task of the distributed fit was {future.status}: its data was lost "
                "with the workers and could not be rebuilt (data scattered to the workers "
                "has no lineage). The fit is abandoned."
            )
