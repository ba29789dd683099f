"""scikit-learn's (experimental, >= 1.9) fit callbacks, fed by the solver's iterations."""

import threading

import numpy as np

__all__ = ["CallbackSupportMixin", "_CallbackBridge"]

try:  # scikit-learn >= 1.9: callbacks (experimental), e.g. sklearn.callback.ProgressBar
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # older scikit-learn: the estimators work, without callbacks

    class CallbackSupportMixin:
        pass


class _CallbackBridge:
    """scikit-learn's fit callbacks, fed by the solver's iterations.

    The fit is the root task. A softmax (one L-BFGS problem) has one subtask per
    iteration, as ``LogisticRegression``'s lbfgs, begun and ended around each
    iteration with the coefficients then (``reconstruction_attributes``); how many
    iterations a fit takes is not known in advance, so the root task declares no total
    (a progress bar shows activity, then completes) rather than ``max_iter``. A
    multi-label fit has one subtask per label (a known total), reported from the
    label's thread as soon as that label's fit is done; the labels run side by side,
    so their subtasks are not sequential and carry the label's index as task id.
    """

    def __init__(self, estimator, X, y, sample_weight, problem):
        self.estimator, self.X, self.y = estimator, X, y
        self.metadata = {"sample_weight": sample_weight}
        self.n_groups = len(problem.groups)
        self.iteration_ctx = None
        self.ctx = None
        self._lock = threading.Lock()
        self.listening = False
        if not hasattr(estimator, "_init_callback_context"):
            return
        single = self.n_groups == 1
        self.ctx = estimator._init_callback_context(
            max_subtasks=None if single else self.n_groups, sequential_subtasks=single
        )
        self._call(self.ctx.call_on_fit_task_begin)
        self.listening = bool(getattr(estimator, "_skl_callbacks", None))
        if single and self.listening:
            # per-iteration subtasks only when a callback listens (they cost a copy of
            # the coefficients at every iteration)
            self.iteration_ctx = self._begin_iteration(None)

    @property
    def on_iteration(self):
        """What the solver calls after each iteration, or None when nothing listens."""
        return None if self.iteration_ctx is None else self.iteration

    @property
    def on_group_end(self):
        """What the solver calls when a group (label) is done, or None."""
        if self.ctx is None or self.n_groups == 1 or not self.listening:
            return None
        return self.group_end

    def _call(self, hook, **attributes):
        hook(estimator=self.estimator, X=self.X, y=self.y, metadata=self.metadata, **attributes)

    def _attributes(self, W, b):
        dtype = self.X.dtype
        return (
            {
                "reconstruction_attributes": {
                    "coef_": np.asarray(W, dtype=dtype),
                    "intercept_": np.asarray(b, dtype=dtype),
                }
            }
            if W is not None
            else {}
        )

    def _begin_iteration(self, parameters):
        ctx = self.ctx.subcontext(task_name="lbfgs-iter")
        self._call(ctx.call_on_fit_task_begin, **self._attributes(*(parameters or (None,) * 2)))
        return ctx

    def iteration(self, group, objective, W, b):
        """After an iteration: end its subtask and begin the next one's."""
        self._call(self.iteration_ctx.call_on_fit_task_end, **self._attributes(W, b))
        self.iteration_ctx = self._begin_iteration((W, b))

    def group_end(self, group, W, b):
        """A label's fit is done: its subtask, begun and ended now, with its coefficients."""
        with self._lock:  # labels end in their own threads
            ctx = self.ctx.subcontext(task_name="label", task_id=int(group))
            self._call(ctx.call_on_fit_task_begin)
            self._call(ctx.call_on_fit_task_end, **self._attributes(W, b))

    def end(self):
        if self.ctx is None:
            return
        if self.iteration_ctx is not None:  # the iteration that did not run
            self.iteration_ctx.call_on_fit_task_end(estimator=self.estimator)
        self._call(self.ctx.call_on_fit_task_end, reconstruction_attributes={})
