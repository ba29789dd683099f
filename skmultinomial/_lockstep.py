"""Independent iterative problems run side by side, their evaluations batched.

The labels of the sigmoid model are independent problems over the same X. Fitted one
after the other, each evaluation reads all of X for one label (matrix-vector products,
bound by memory bandwidth); fitted as one joint problem, every label pays for the
iterations of the hardest. Here each problem keeps its own iterations (the solver runs
its own L-BFGS in a thread per problem), and the evaluations that the running problems
ask for are batched into one call: one pass over X with matrix-matrix products for all
of them. A problem that finishes leaves the batch and the next one waiting takes its
place.

The threads only wait on each other: the batched evaluation runs in the thread that
completes the batch, and every batch holds all running problems, so the order of every
problem's evaluations is its own and its result does not depend on the others. Nothing
here knows what an evaluation computes.
"""

import threading

__all__ = ["run_batched"]


def run_batched(problems, solve, evaluate_batch, max_batch):
    """Run ``solve(problem, evaluate_one)`` for every problem, evaluations batched.

    Parameters
    ----------
    problems : list of hashable
        The problems, started in this order; at most ``max_batch`` run at once.
    solve : callable
        ``solve(problem, evaluate_one)``: runs one problem to its end, calling
        ``evaluate_one(x)`` for each evaluation it needs (from the thread it runs in).
    evaluate_batch : callable
        ``evaluate_batch({problem: x}) -> {problem: value}``, for any set of the running
        problems.
    max_batch : int

    Returns
    -------
    results : list
        ``solve``'s return values, in the order of ``problems``. An exception in any
        problem (or a KeyboardInterrupt here) stops every problem and is raised.
    """
    problems = list(problems)
    batch = _Batch(evaluate_batch, min(len(problems), max_batch))
    results = [None] * len(problems)
    queue = iter(enumerate(problems))
    queue_lock = threading.Lock()

    def worker():
        try:
            while True:
                with queue_lock:
                    index, problem = next(queue, (None, None))
                if index is None:
                    return
                results[index] = solve(problem, lambda x, p=problem: batch.evaluate(p, x))
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


class _Batch:
    """Collects one evaluation request from every running problem, then runs them at once."""

    def __init__(self, evaluate, running):
        self.evaluate_batch = evaluate
        self.running = running
        self.pending = {}
        self.done = {}
        self.error = None
        self.cond = threading.Condition()

    def evaluate(self, problem, x):
        with self.cond:
            if self.error is not None:
                raise RuntimeError("another problem of this fit failed")
            self.pending[problem] = x
            self._run_if_complete()
            while problem not in self.done and self.error is None:
                self.cond.wait()
            if self.error is not None:
                raise RuntimeError("another problem of this fit failed")
            return self.done.pop(problem)

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
