"""Independent L-BFGS problems run side by side, their evaluations batched.

The labels of the sigmoid model are independent problems over the same X. Fitted one
after the other, each evaluation reads all of X for one label (matrix-vector products,
bound by memory bandwidth); fitted as one joint problem, every label pays for the
iterations of the hardest. Here each problem keeps its own scipy L-BFGS (its own
iterations, line searches and stopping), each in a thread, and the driver batches the
evaluations that the running problems ask for into one call: one pass over X with
matrix-matrix products for all of them. A problem that converges leaves the batch and
the next one waiting takes its place.

The threads only wait on each other: the batched evaluation runs in the thread that
completes the batch, and the order of every problem's evaluations is its own, so the
result of each problem does not depend on the others.
"""

import threading

from scipy.optimize import OptimizeResult, minimize

# At most this many problems run (and are batched) at once.
MAX_BATCH = 64


class _Converged(Exception):
    """Raised by a problem's objective at a point that passes its convergence test."""

    def __init__(self, x, f):
        super().__init__()
        self.x, self.f = x, f


def lbfgs_lockstep(evaluate, x0s, options, callback=None, batched=True, converged=None):
    """Minimise independent objectives with one L-BFGS each, evaluations batched.

    Parameters
    ----------
    evaluate : callable
        ``evaluate({index: x}) -> {index: (f, grad)}`` for any subset of the problems.
    x0s : list of ndarray
        Starting points, one per problem.
    options : dict
        Options of ``scipy.optimize.minimize(method="L-BFGS-B")``.
    callback : callable or None
        ``callback(index, intermediate_result)`` after each iteration of a problem.
    batched : bool
        False runs the problems one after the other in this thread, each evaluation
        alone: for small data, where handing evaluations between threads costs more
        than one pass over X per problem.
    converged : callable or None
        ``converged(index, grad)``: True stops that problem at the point just evaluated
        (``status`` 99). Checked at every evaluation, the start included, so that no
        step is computed from a gradient that is already nearly zero (L-BFGS would
        divide underflowing numbers there).

    Returns
    -------
    results : list of OptimizeResult, in the order of ``x0s``.
    """
    n_problems = len(x0s)

    def solve(index, evaluate_one):
        n_iter = [0]

        def objective(x):
            f, grad = evaluate_one(x)
            if converged is not None and converged(index, grad):
                raise _Converged(x.copy(), f)
            return f, grad

        def after_iteration(intermediate_result):
            n_iter[0] += 1
            if callback is not None:
                callback(index, intermediate_result)

        try:
            return minimize(
                objective,
                x0s[index],
                method="L-BFGS-B",
                jac=True,
                options=options,
                callback=after_iteration,
            )
        except _Converged as stop:
            return OptimizeResult(
                x=stop.x,
                fun=stop.f,
                nit=n_iter[0],
                status=99,
                success=True,
                message="the gradient test passed",
            )

    if n_problems == 1 or not batched:
        return [solve(i, lambda x, i=i: evaluate({i: x})[i]) for i in range(n_problems)]

    batch = _Lockstep(evaluate, min(n_problems, MAX_BATCH))
    results = [None] * n_problems
    queue = iter(range(n_problems))
    queue_lock = threading.Lock()

    def worker():
        try:
            while True:
                with queue_lock:
                    index = next(queue, None)
                if index is None:
                    return
                results[index] = solve(index, lambda x, i=index: batch.evaluate(i, x))
        except BaseException as exc:  # noqa: B036 - handed to the main thread below
            batch.fail(exc)
        finally:
            batch.leave()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(batch.running)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except BaseException as exc:  # noqa: B036 - e.g. KeyboardInterrupt: release the workers
        batch.fail(exc)
        raise
    if batch.error is not None:
        raise batch.error
    return results


class _Lockstep:
    """Collects one evaluation request from every running problem, then runs them at once."""

    def __init__(self, evaluate, running):
        self.evaluate_batch = evaluate
        self.running = running
        self.pending = {}
        self.done = {}
        self.error = None
        self.cond = threading.Condition()

    def evaluate(self, index, x):
        with self.cond:
            if self.error is not None:
                raise RuntimeError("another problem of this fit failed")
            self.pending[index] = x
            self._run_if_complete()
            while index not in self.done and self.error is None:
                self.cond.wait()
            if self.error is not None:
                raise RuntimeError("another problem of this fit failed")
            return self.done.pop(index)

    def leave(self):
        with self.cond:
            self.running -= 1
            self._run_if_complete()

    def fail(self, exc):
        with self.cond:
            if self.error is None:
                self.error = exc
            self.cond.notify_all()

    def _run_if_complete(self):
        # Called with the lock held: every running problem is waiting for this batch.
        if not self.pending or len(self.pending) < self.running or self.error is not None:
            return
        batch, self.pending = self.pending, {}
        try:
            self.done.update(self.evaluate_batch(batch))
        except BaseException as exc:  # noqa: B036 - every waiting problem sees it
            self.error = exc
        self.cond.notify_all()
