"""The L-BFGS driver: blocked evaluation, preconditioning, and the fit of each problem.

For a group of outputs (all classes of a softmax, or one sigmoid label) the driver
minimises, with scipy's L-BFGS-B,

    f(W, b) = sum_i s_i loss_i(W, b) / S  +  ||W||^2 / (2 C S),      S = sum_i s_i

which is the objective of DESIGN.md divided by ``C * S`` (as scikit-learn does, so that
``tol`` keeps its meaning). Three things sit between that call and the loss module:

- Blocks: the sum over rows is :func:`~skmultinomial._loss.chunk_loss_grad` over row
  blocks, so temporaries are O(block x n_outputs); large problems spread the blocks over
  threads (BLAS single-threaded inside each block), summed in a fixed order.
- Preconditioning: L-BFGS works on ``theta = (W * d, b + W @ mu)``, the parameters of the
  model on the centred, scaled features ``(X - mu) / d``, without forming them: the
  parameters are mapped back before each evaluation and the gradient is mapped forward.
  The objective is the same function of (W, b), penalty included, so the optimum is
  unchanged; only the path to it (and what ``tol`` measures) is that of standardised data.
- Lockstep (``_lockstep.py``): independent problems that share X (the labels of the
  sigmoid model) each run their own L-BFGS, and their evaluations are batched into one
  pass over X.
"""

import contextlib
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
import threadpoolctl
from threadpoolctl import ThreadpoolController

from . import _lockstep
from ._loss import Workspace, aligned_copy, chunk_loss_grad

# Rows per block: about this many logits per block (a few hundred kB to a few MB).
_BLOCK_ELEMENTS = 1 << 18
# ...and at least this many rows.
_MIN_BLOCK_ROWS = 256
# Below this many multiply-adds per product, threads cost more than they save.
_THREADED_WORK = 1 << 22
# Separate problems (sigmoid labels) are batched into shared passes over X when X has at
# least this many entries; below, one after the other is faster than handing evaluations
# between threads.
_BATCH_WORK = 1 << 20
# float32 fits stop when the objective's relative decrease falls to this many times its
# rounding noise, eps32 / sqrt(n_samples).
_FTOL_NOISE = 1.0

_controller = None
_blas_lock = threading.Lock()
_blas_state = {"users": 0, "limiter": None}


@contextlib.contextmanager
def _blas_single_threaded():
    """Context in which BLAS runs on one thread (the driver makes its own threads).

    Fits may overlap in threads of one process: the first to enter sets the limit and
    the last to leave restores what was there before, whatever the order they end in.
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


def _n_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class BlockEvaluator:
    """Sums of loss and gradient over the rows of an in-memory X, block by block.

    The row source of :func:`solve`. ``distributed.DaskEvaluator`` is the other one, with
    the same interface: ``n_samples``, ``n_features``, ``dtype``, ``moments(weights)``,
    use as a context manager, and ``evaluator(W, b, rows, link)``.

    Parameters
    ----------
    X : {ndarray, CSR or CSC matrix} of shape (n_samples, n_features)
    T : ndarray of shape (n_samples,) or (n_outputs, n_samples)
        The encoded targets (``Problem.T``).
    s : ndarray of shape (n_samples,) or (n_outputs, n_samples)
        The weights (``Problem.sample_weight``).
    n_outputs : int
        Number of logits evaluated at once, to size the blocks.
    n_threads : int, default=None
        Threads over blocks; None chooses by size (one for small problems).
    """

    def __init__(self, X, T, s, n_outputs, n_threads=None):
        self.n_samples, self.n_features = X.shape
        self.dtype = X.dtype
        # Copies at a fixed alignment (see Workspace.get): the same fit, the same sums.
        self.T, self.s = aligned_copy(T), aligned_copy(s)
        n_samples = self.n_samples
        rows = max(_MIN_BLOCK_ROWS, _BLOCK_ELEMENTS // max(n_outputs, 1))
        if n_threads is None:
            work = n_samples * self.n_features * n_outputs
            n_threads = 1
            if work >= _THREADED_WORK:
                n_threads = min(_n_cpus(), max(1, n_samples // rows))
        if sp.issparse(X) and X.format != "csr":
            # Slicing rows of CSC copies; one block uses the products CSC is fast at.
            rows, n_threads = max(n_samples, 1), 1
        if n_threads > 1:
            # At least two blocks a thread, for balance.
            rows = min(rows, -(-n_samples // (2 * n_threads)))
        self.bounds = [(lo, min(lo + rows, n_samples)) for lo in range(0, n_samples, rows)]
        self.blocks = [_row_block(X, lo, hi) for lo, hi in self.bounds]
        self.n_threads = n_threads
        self._workspaces = [Workspace() for _ in range(n_threads)]
        self._pool = None

    def __enter__(self):
        if self.n_threads > 1:
            self._pool = ThreadPoolExecutor(self.n_threads)
        return self

    def __exit__(self, *exc_info):
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def moments(self, weights):
        """Weighted column moments of X, scaled so that no feature scale overflows.

        Returns ``(scale, mean, mean_sq)``: the largest ``|x_j|`` of each column (1 for
        an all-zero column) and the weighted means of ``x_j / scale_j`` and of its
        square. X is read by blocks and not copied.
        """
        scale = _safe_scale(self.column_max())
        total = weights.sum(dtype=np.float64)
        return (scale, *(part / total for part in self.weighted_sums(weights, scale)))

    def column_max(self):
        """Largest absolute value of each column."""
        out = np.zeros(self.n_features)
        for block in self.blocks:
            if block.shape[0]:
                out = np.maximum(
                    out,
                    np.asarray(
                        abs(block).max(axis=0).todense()
                        if sp.issparse(block)
                        else np.abs(block).max(axis=0)
                    ).ravel(),
                )
        return out

    def weighted_sums(self, weights, scale):
        """``sum_i w_i x_i / scale`` and ``sum_i w_i (x_i / scale)**2``, float64."""
        w = weights.astype(np.float64)
        sums, sums_sq = np.zeros(self.n_features), np.zeros(self.n_features)
        for (lo, hi), block in zip(self.bounds, self.blocks):
            block = block.multiply(1 / scale) if sp.issparse(block) else block / scale
            square = block.multiply(block) if sp.issparse(block) else np.square(block)
            sums += np.asarray(w[lo:hi] @ block).ravel()
            sums_sq += np.asarray(w[lo:hi] @ square).ravel()
        return sums, sums_sq

    def __call__(self, W, b, rows, link):
        """``chunk_loss_grad`` summed over the blocks, for the outputs ``rows`` (None: all)."""
        T = self.T if rows is None or self.T.ndim == 1 else self.T[rows]
        s = self.s if rows is None or self.s.ndim == 1 else self.s[rows]
        if not self.blocks:  # an empty chunk of a distributed fit
            loss = np.zeros(W.shape[0]) if link.separable else 0.0
            return [loss, np.zeros(W.shape, W.dtype), None if b is None else np.zeros_like(b)]

        def run(worker):
            total = None
            work = self._workspaces[worker]
            for k in range(worker, len(self.blocks), self.n_threads):
                lo, hi = self.bounds[k]
                T_k = T[lo:hi] if T.ndim == 1 else T[:, lo:hi].T
                s_k = s[lo:hi] if s.ndim == 1 else s[:, lo:hi].T
                part = chunk_loss_grad(W, b, self.blocks[k], T_k, s_k, link, work)
                total = part if total is None else [_add(a, c) for a, c in zip(total, part)]
            return total

        pool_map = map if self._pool is None else self._pool.map
        return _sum_parts(pool_map(run, range(min(self.n_threads, len(self.blocks)))))


def _safe_scale(column_max):
    """Column scales for the moments: the largest magnitude, 1 where it is 0."""
    return np.where(column_max > 0, column_max, 1.0).astype(np.float64)


def _sum_parts(parts):
    """Add the workers' sums in worker order: the same order, the same result."""
    parts = list(parts)
    total = parts[0]
    for part in parts[1:]:
        total = [_add(a, c) for a, c in zip(total, part)]
    return total


def _add(a, c):
    return None if a is None else a + c


def _row_block(X, lo, hi):
    """Rows lo:hi of X without copying the data (for CSR, a view of data and indices)."""
    if not sp.issparse(X) or X.format != "csr":
        return X[lo:hi] if (lo, hi) != (0, X.shape[0]) else X
    start, stop = X.indptr[lo], X.indptr[hi]
    return sp.csr_matrix(
        (X.data[start:stop], X.indices[start:stop], X.indptr[lo : hi + 1] - start),
        shape=(hi - lo, X.shape[1]),
        copy=False,
    )


class Preconditioner:
    """The affine map between (W, b) and the parameters theta L-BFGS works on.

    ``W = W_theta / d`` and ``b = b_theta - W @ mu``, with ``mu`` the column means (zero
    without intercept) and ``d_j^2 = var_j + floor``: the square root of the diagonal of
    the objective's Hessian at the start (``c * var_j + alpha``, c the loss curvature at
    zero logits, alpha the penalty strength), up to a common factor. Columns of any
    scale then look alike to L-BFGS, and a near-constant column, which the penalty
    dominates, is not blown up into a stiff direction.

    The gradient in theta is also what ``tol`` measures: scale-free, and on
    standardised data the gradient in W up to the factor ``sqrt(1 + floor)`` (1% on
    178 samples at C=1). Measured without the floor (on the plain standardised
    features), a feature that the penalty pins at zero would keep a gradient that no
    step can remove.
    """

    def __init__(self, moments, fit_intercept, floor):
        scale, mean, mean_sq = moments
        spread = np.maximum(mean_sq - mean**2, 0.0) if fit_intercept else mean_sq
        self.mu = scale * mean if fit_intercept else np.zeros_like(mean)
        # The moments are of x / scale, so that features of 1e300 or 1e-300 neither
        # overflow nor vanish; hypot keeps sqrt(std^2 + floor) in range too.
        std = scale * np.sqrt(spread)
        d = np.hypot(std, np.sqrt(floor))
        self.d = np.where(d > 0, d, 1.0)

    @classmethod
    def identity(cls, n_features):
        """No preconditioning: theta is (W, b) itself."""
        return cls((np.ones(n_features), np.zeros(n_features), np.ones(n_features)), False, 0.0)

    def to_model(self, theta_W, theta_b):
        W = theta_W / self.d
        b = None if theta_b is None else theta_b - W @ self.mu
        return W, b

    def to_theta(self, W, b):
        return W * self.d, (None if b is None else b + W @ self.mu)

    def grad_to_theta(self, gW, gb):
        """Chain rule: the gradient in theta from the gradient in (W, b)."""
        if gb is not None:
            gW = gW - np.outer(gb, self.mu)
        return gW / self.d, gb


class Problem:
    """One fitting problem: encoded targets, weights and likelihood of a set of outputs.

    Parameters
    ----------
    T : ndarray of shape (n_samples,) or (n_outputs, n_samples)
        Class indices (softmax) or targets with the outputs along the first axis.
    sample_weight : ndarray of shape (n_samples,) or (n_outputs, n_samples)
        Weights of the rows, or (sigmoid) of each output and row.
    link : {SOFTMAX, SIGMOID}
    n_outputs : int
    names : list of str
        How each separately fitted group of outputs is named in messages: one name for a
        softmax (its outputs are one problem), one per output for the sigmoid.
    """

    def __init__(self, T, sample_weight, link, n_outputs, names):
        self.T = T
        self.sample_weight = sample_weight
        self.link = link
        self.n_outputs = n_outputs
        self.names = names
        self.groups = (
            [np.array([j]) for j in range(n_outputs)] if link.separable else [np.arange(n_outputs)]
        )


def solve(
    X,
    problem,
    *,
    C,
    fit_intercept,
    tol,
    max_iter,
    verbose=0,
    init=None,
    label="",
    on_iteration=None,
):
    """Fit every group of ``problem`` by L-BFGS; return coef, intercept and the results.

    ``on_iteration(group, objective, W, b)``, if given, is called after every L-BFGS
    iteration of a group with its parameters then. Each result carries ``curve``: the
    objective (divided by ``C * S``) at the start, after each iteration, and where the
    fit stopped.

    Returns
    -------
    coef : ndarray of shape (n_outputs, n_features), float64
    intercept : ndarray of shape (n_outputs,), float64 (zeros without intercept)
    results : list of OptimizeResult, one per group, with a ``converged`` flag
    """
    link, T, s, groups = problem.link, problem.T, problem.sample_weight, problem.groups
    S = s.sum(axis=-1, dtype=np.float64)
    S_group = np.array([S if s.ndim == 1 else S[g].sum() for g in groups], dtype=np.float64)
    for name, total in zip(problem.names, S_group):
        if not total > 0:
            raise ValueError(
                f"The sample weights, multiplied by the class weights, sum to zero{name}: "
                "there is nothing to fit. Give at least one sample of a class with non-zero "
                "class weight a positive sample_weight."
            )
    penalised = not np.isinf(C)
    alpha = 1.0 / (C * S_group) if penalised else None
    width = len(groups[0])
    batch_width = width * min(len(groups), _lockstep.MAX_BATCH)
    evaluator = _evaluator(X, T, s, batch_width)
    n_features = evaluator.n_features
    # The arithmetic's dtype: X's, then float64 to finish a float32 fit (see below).
    arithmetic = {"dtype": evaluator.dtype}
    if _PRECONDITION:
        # Moments weighted like the objective, so that weighted data and repeated rows
        # get the same preconditioner (and so the same iterates).
        floor = 1.0 / (C * np.max(S) * link.curvature_at_zero(width)) if penalised else 0.0
        weights = s if s.ndim == 1 else s.mean(axis=0)
        precond = Preconditioner(evaluator.moments(weights), fit_intercept, floor)
    else:
        precond = Preconditioner.identity(n_features)
    n_coef = width * n_features
    last_grad = {}

    def unpack(x):
        return x[:n_coef].reshape(width, n_features), (x[n_coef:] if fit_intercept else None)

    def evaluate(batch):
        order = sorted(batch)
        rows = np.concatenate([groups[g] for g in order])
        theta = [unpack(batch[g]) for g in order]
        W, b = precond.to_model(
            np.vstack([t[0] for t in theta]),
            np.concatenate([t[1] for t in theta]) if fit_intercept else None,
        )
        loss, gW, gb = evaluator(
            W.astype(arithmetic["dtype"]),
            None if b is None else b.astype(arithmetic["dtype"]),
            None if len(rows) == problem.n_outputs else rows,
            link,
        )
        out = {}
        for k, g in enumerate(order):
            sl = slice(k * width, (k + 1) * width)
            W_g = W[sl]
            f = float(np.sum(loss[sl]) if link.separable else loss) / S_group[g]
            gW_g = gW[sl].astype(np.float64) / S_group[g]
            gb_g = None if gb is None else gb[sl].astype(np.float64) / S_group[g]
            if penalised:
                f += 0.5 * alpha[g] * float(np.sum(W_g * W_g))
                gW_g += alpha[g] * W_g
            gW_g, gb_g = precond.grad_to_theta(gW_g, gb_g)
            grad = np.concatenate([gW_g.ravel(), [] if gb_g is None else gb_g])
            last_grad[g] = grad
            out[g] = (f, grad)
            if not curves[g]:
                curves[g].append(f)  # the first evaluation of a group is its start
            if np.isfinite(f) and (g not in best or f < best[g][0]):
                best[g] = (f, batch[g].copy())
        return out

    def stopping_norm(grad):
        """Largest entry of the gradient in theta (the preconditioned parameters)."""
        return float(np.max(np.abs(grad), initial=0.0))

    def converged(_, grad):
        return stopping_norm(grad) <= tol

    curves = {g: [] for g in range(len(groups))}
    started = time.perf_counter()

    def report(g, result):
        curves[g].append(float(result.fun))
        if verbose:
            # L-BFGS evaluates the accepted point last, so last_grad[g] is its gradient.
            print(
                f"[{label}]{problem.names[g]} iter {len(curves[g]) - 1:4d}  objective "
                f"{result.fun:.10g}  max|grad| {stopping_norm(last_grad[g]):.3g}  "
                f"{time.perf_counter() - started:.3f} s",
                flush=True,
            )
        if on_iteration is not None:
            on_iteration(g, float(result.fun), *precond.to_model(*unpack(result.x)))

    x0s = []
    for g in groups:
        if init is None:
            x0s.append(np.zeros(n_coef + (width if fit_intercept else 0)))
        else:
            tW, tb = precond.to_theta(init[0][g], init[1][g] if fit_intercept else None)
            x0s.append(np.concatenate([tW.ravel(), [] if tb is None else tb]))
    # L-BFGS also stops when an iteration lowers the objective by less than ftol
    # (relative). scikit-learn's 64 eps suits float64; in float32 the sum over rows is
    # only known to about eps32 / sqrt(n_samples) (rounding of the logits, independent
    # across rows), and line searches below that level burn evaluations on noise.
    ftol = 64 * np.finfo(np.float64).eps
    if evaluator.dtype != np.float64:
        ftol = max(ftol, _FTOL_NOISE * np.finfo(evaluator.dtype).eps / np.sqrt(evaluator.n_samples))
    # The gradient test is ours (``converged``, checked at every evaluation, the start
    # included), so L-BFGS-B's own test is off.
    options = {"maxiter": max_iter, "maxls": 50, "gtol": 0.0, "ftol": ftol}
    batched = evaluator.n_samples * n_features >= _BATCH_WORK
    best = {}  # group -> (objective, x): the lowest finite point evaluated
    with _blas_single_threaded(), evaluator:
        results = _lockstep.lbfgs_lockstep(
            evaluate,
            x0s,
            options,
            report,
            batched=batched,
            converged=converged,
        )
        unfinished = [g for g, r in enumerate(results) if r.status != 99]
        if evaluator.dtype != np.float64 and unfinished:
            # float32 logits are rounded to ~1e-7 of their size: where the loss is small
            # against them (well separated classes) that rounding hides the last steps
            # and the fit stops early. Finish in float64 arithmetic (X's blocks are
            # converted one at a time), from where float32 stopped.
            arithmetic["dtype"] = np.float64
            position = {g: i for i, g in enumerate(unfinished)}

            def evaluate_unfinished(batch):
                done = evaluate({unfinished[i]: x for i, x in batch.items()})
                return {position[g]: value for g, value in done.items()}

            finish = _lockstep.lbfgs_lockstep(
                evaluate_unfinished,
                [
                    results[g].x if np.all(np.isfinite(results[g].x)) else best[g][1]
                    for g in unfinished
                ],
                {**options, "ftol": 64 * np.finfo(np.float64).eps},
                lambda i, r: report(unfinished[i], r),
                batched=batched,
                converged=converged,
            )
            for g, result in zip(unfinished, finish):
                result.nit += results[g].nit
                results[g] = result

    coef = np.zeros((problem.n_outputs, n_features))
    intercept = np.zeros(problem.n_outputs)
    for index, (g, result) in enumerate(zip(groups, results)):
        if index in best and not np.all(np.isfinite(result.x)):
            # L-BFGS broke down (a step computed from underflowing numbers): keep the
            # best point it evaluated, never a NaN.
            result.fun, result.x = best[index]
            result.status = 2
        W, b = precond.to_model(*unpack(result.x))
        coef[g], intercept[g] = link.canonical(W, b if fit_intercept else np.zeros(width))
        # Converged: our gradient test (status 99), the relative-decrease test (status
        # 0), or a stop elsewhere at a point that passes the gradient test.
        result.converged = result.status in (0, 99) or (
            index in last_grad and stopping_norm(last_grad[index]) <= tol
        )
        result.nit = min(result.nit, max_iter)
        result.curve = curves[index]
        if result.curve and result.curve[-1] != result.fun:
            result.curve.append(float(result.fun))  # stopped inside an iteration
    return coef, intercept, results


def _evaluator(X, T, s, n_outputs):
    """The row source for X: in memory, or the chunks of a Dask array on its workers."""
    if type(X).__module__.startswith("dask"):
        from .distributed import DaskEvaluator

        return DaskEvaluator(X, T, s, n_outputs)
    return BlockEvaluator(X, T, s, n_outputs)


# Tests switch the preconditioning off to check that it leaves the optimum unchanged.
_PRECONDITION = True
