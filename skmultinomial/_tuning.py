"""The sizes that choose the fitting core's paths, BLAS thread control, and path traces.

Every threshold that decides how a fit runs (rows per block, when to use threads, when
to batch the labels of a multi-label fit) is a field of :data:`SETTINGS`, read when a
fit starts. This is the one place tests may change them, with :func:`override`; and
:func:`trace` collects what each fit did (blocks, threads, batches), so that a test can
assert the path it claims to cover instead of trusting a size.
"""

import contextlib
import dataclasses
import os
import threading

import threadpoolctl
from threadpoolctl import ThreadpoolController

__all__ = ["SETTINGS", "blas_single_threaded", "n_threads_available", "override", "record", "trace"]


@dataclasses.dataclass
class Settings:
    """Thresholds of the fitting core; the defaults were measured on 2-core machines."""

    #: Rows per block: about this many logits per block (a few hundred kB to a few MB).
    block_elements: int = 1 << 18
    #: ...and at most this many bytes of a dense X, so that the gradient's product reads
    #: the block from cache, where the logits' product left it (a single logit of
    #: 200k x 50, an evaluation on two threads: 6.9 ms at 10,485 rows a block, this cap,
    #: against 9.0 ms at 50,000, and 9.4 ms at 2,621; 10 classes of 100k x 100, bound by
    #: arithmetic, alike from 1,310 to 26,214 rows). On a host whose 480 MiB L3 holds X
    #: whatever the blocks, the cap cost instead (10.5 against 8.9 ms without it; 17.9
    #: against 16.0 ms for the 10 classes): kept as the guard against a shared L3.
    block_bytes: int = 1 << 22
    #: ...and at least this many rows.
    min_block_rows: int = 256
    #: Below this many multiply-adds per product, threads cost more than they save.
    threaded_work: int = 1 << 22
    #: Threads need two blocks of block_elements logits; an X of at least this many
    #: entries is threaded all the same (a single logit's block of 262,144 rows held all
    #: of a 200k x 50 X: 15.5 ms an evaluation on one thread, 9-12 ms on two; smaller X
    #: stay on one: an 8-label CV fold of 16k x 60 ran 12% slower on two).
    threaded_entries: int = 1 << 22
    #: Threads over blocks at most; None: the CPUs this process may run on.
    max_threads: int | None = None
    #: Separate problems (sigmoid labels) are batched into shared passes over X when X's
    #: entries (stored entries, if sparse) times the problems run at once are at least
    #: this many; below, one after the other is faster than handing evaluations between
    #: threads (measured on X of 2k to 16k x 60 with 3, 8 and 20 labels: batched took
    #: 0.58-0.98 of the time above, 1.02-1.52 below).
    batch_work: int = 3 << 19
    #: At most this many separate problems run (and are batched) at once.
    max_batch: int = 64
    #: A warm start along a path with a guess is held to its relative test loosened by
    #: the path's relative step, and tightened by this margin (``_solver.py``).
    path_margin: float = 3.0
    #: float32 fits stop when the objective's relative decrease falls to this many times
    #: its rounding noise, eps32 / sqrt(n_samples).
    ftol_noise: float = 1.0
    #: cov_type refuses more coefficients (per group) than this: the Hessian alone is
    #: 8 n_coef^2 bytes (128 MiB at the limit) and costs n_samples n_coef^2 to compute.
    max_covariance_coefficients: int = 4096
    #: Unpenalised in-memory fits look for separated classes by a linear program when X
    #: has at most this many entries.
    max_separation_check: int = 10**7
    #: A distributed fit raises after this many seconds without any worker in the cluster.
    dask_no_worker_timeout: float = 60.0
    #: Rows per block of an X of another array namespace (a GPU's): about this many
    #: logits per block; larger than on the CPU, as each operation is a kernel launch.
    namespace_block_elements: int = 1 << 24
    #: Fit NumPy arrays through the array-namespace kernel (to compare it with NumPy's
    #: in-place one: benchmarks/bench_array_api.py --numpy).
    namespace_numpy: bool = False
    #: Precondition L-BFGS by the features' moments (off: to test that it leaves the
    #: optimum unchanged).
    precondition: bool = True


SETTINGS = Settings()


@contextlib.contextmanager
def override(**changes):
    """Set fields of :data:`SETTINGS` inside the block, e.g. ``override(max_batch=3)``."""
    unknown = set(changes) - {f.name for f in dataclasses.fields(Settings)}
    if unknown:
        raise TypeError(f"unknown settings: {sorted(unknown)}")
    before = dataclasses.asdict(SETTINGS)
    for name, value in changes.items():
        setattr(SETTINGS, name, value)
    try:
        yield SETTINGS
    finally:
        for name, value in before.items():
            setattr(SETTINGS, name, value)


def n_cpus():
    """The number of CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def n_threads_available():
    """Threads a fit may use: ``SETTINGS.max_threads``, or the CPUs."""
    return SETTINGS.max_threads or n_cpus()


# --- traces ------------------------------------------------------------------------

_trace_lock = threading.Lock()
_traces = []


@contextlib.contextmanager
def trace():
    """Collect the records of the fits run inside the block: a list of (kind, facts).

    Kinds: ``"rows"`` (a row source closed: its blocks, threads and evaluations) and
    ``"solve"`` (a solver finished: groups, batches, float64 finish).
    """
    records = []
    with _trace_lock:
        _traces.append(records)
    try:
        yield records
    finally:
        with _trace_lock:
            _traces.remove(records)


def record(kind, **facts):
    """Add a record to every open trace; costs nothing when none is open."""
    if not _traces:
        return
    with _trace_lock:
        for records in _traces:
            records.append((kind, facts))


# --- BLAS threads --------------------------------------------------------------------

_controller = None
_blas_lock = threading.Lock()
_blas_state = {"users": 0, "limiter": None}


@contextlib.contextmanager
def blas_single_threaded():
    """Context in which BLAS runs on one thread (the fit makes its own threads).

    NumPy's and SciPy's OpenBLAS pools are separate and slow each other down when both
    run threads; and the optimiser's tiny vector operations pay a thread wake-up on
    every call. Fits may overlap in threads of one process: the first to enter sets the
    limit and the last to leave restores what was there before, whatever the order
    they end in.
    """
    global _controller
    with _blas_lock:
        if _controller is None:
            _controller = ThreadpoolController()
        if _blas_state["users"] == 0:
            _take_blas_control()
            _blas_state["limiter"] = _controller.limit(limits=1, user_api="blas")
        _blas_state["users"] += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_state["users"] -= 1
            if _blas_state["users"] == 0:
                _take_blas_control()
                _blas_state["limiter"].restore_original_limits()
                _blas_state["limiter"] = None


def _take_blas_control():
    """Let this thread set OpenBLAS's thread count.

    threadpoolctl lets only one Python thread at a time change a shared OpenBLAS pool
    (the first to do so, while it lives) and ignores the others. The fit that restores
    the count may not be the one that limited it: it must take control first.
    """
    clear = getattr(threadpoolctl.OpenBLASController, "clear_controlling_thread", None)
    if clear is not None:  # recent threadpoolctl; before it, any thread could set
        try:
            clear(force=True)
        except TypeError:  # a version without ``force``
            clear()
