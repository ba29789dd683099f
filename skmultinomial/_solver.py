"""L-BFGS over the groups of an objective, in named phases.

:class:`LBFGSSolver` minimises each group's ``f_g`` of an
:class:`~skmultinomial._objective.Objective` with scipy's L-BFGS-B and returns one
:class:`GroupResult` per group. :meth:`LBFGSSolver.solve` runs four phases:

1. ``setup``: the starting points (zeros, or a warm start), the stopping thresholds, a
   fresh state per group.
2. ``run``: one L-BFGS per group, one group after the other, or (a multi-label fit on
   large X) side by side with their evaluations batched into shared passes over X
   (``_lockstep.py``).
3. ``finish_float64``: a float32 fit's groups that stopped before the gradient test
   passed continue in float64 arithmetic, within what is left of ``max_iter``.
4. ``finalize``: the best finite point where L-BFGS broke down, the convergence
   verdict, the coefficients.

Stopping. A group stops when the largest entry of its gradient with respect to the
preconditioned parameters is at most ``tol``: tested at every evaluation, the start
included, so that no step is computed from a gradient that is already nearly zero
(L-BFGS would divide underflowing numbers there). L-BFGS also stops when an iteration
lowers ``f_g`` by less than ``ftol`` (relative): scikit-learn's ``64 eps`` in float64;
in float32, the objective's rounding noise ``eps32 / sqrt(n_samples)``.

Warm starts along a path of C (``relative_warm_start=True``). ``f_g`` is divided by
``C * S_g``, so at a larger C the gradient at the previous solution is small however
far the optimum has moved (a weak penalty leaves the objective flat): the test above
may pass where the fit starts and stop it there. A warm-started group is then held to
the test made relative: it stops at ``tol * min(1, g_start / g_zero)``, with
``g_start`` the largest gradient entry at its warm start and ``g_zero`` the one at
zero coefficients, where a cold fit starts. It divides its gradient by at least the
factor that a cold fit at ``tol`` divides its own by, from a start that is closer. If
``max_iter`` comes first, it has converged all the same where its gradient is below
``tol`` (as a fit from zero would have). A ``guess`` (a path's extrapolation of its last
two solutions) is started from instead of the warm start where its objective is lower;
the test stays measured at the warm start.

With a guess the path also says how far the start is off: about its step, ``d = |x_guess
- x_warm| / |x_warm|`` relative to the coefficients, not their whole distance from zero
that a cold fit covers. The test is then ``tol * min(1, g_start / (g_zero * m * d))``,
with a margin ``m = 3`` (``_tuning.SETTINGS.path_margin``): where the path has settled
(weak penalties on data that is not separable, consecutive solutions nearly equal) it
no longer asks for gradients a million times below ``tol`` (the dense 20k x 60 path of
``benchmarks/bench_cv.py``: 337 iterations before, 208 with it, the same largest error
of its scores), and where the coefficients still grow with C (nearly separable
classes) it stays about as strict.

The first step. L-BFGS-B's first step has unit length; at a warm start, whose gradient
is small, that is far too long and its line search pays several evaluations. With a
guess, L-BFGS runs in ``u = x / scale``, ``scale`` the length of the step ``-gamma
grad`` with ``gamma = s.y / y.y`` of the secant pair between warm start and guess (what
L-BFGS itself takes from its second iteration on, and invariant to this rescaling from
there: only the first step changes). Cold fits keep ``scale = 1``, and so does a warm
start whose scaled first step finds no lower point (L-BFGS starts again unscaled: at
the limit of the objective's precision that line search can fail where a unit step's
backtracking does not).
"""

import dataclasses
import time

import numpy as np
from scipy.optimize import minimize

from . import _lockstep, _tuning

__all__ = ["GroupResult", "LBFGSSolver"]

# scipy's L-BFGS-B status -> why it stopped
_SCIPY_STOPS = {0: "decrease", 1: "max_iter", 2: "line_search"}


@dataclasses.dataclass
class GroupResult:
    """How the L-BFGS of one group ended.

    ``stop`` is one of "gradient" (the gradient test passed), "decrease" (an iteration
    gained less than ``ftol``), "max_iter", "max_evaluations", "line_search" (the line
    search found no lower point) or "breakdown" (a step of non-finite numbers; the best
    point evaluated is kept). ``curve`` holds ``f_g`` at the start, after each
    iteration, and where the fit stopped. ``data_loss`` is the data term ``sum_i s_ig
    loss_ig`` at the final point, from its last evaluation where that was in float64
    arithmetic (None otherwise): the fit statistics need no pass of their own there.
    """

    coef: np.ndarray
    intercept: np.ndarray
    n_iter: int
    converged: bool
    stop: str
    message: str
    objective: float
    grad_max: float
    curve: list
    threshold: float
    data_loss: float | None = None


class _GroupState:
    """What one group's L-BFGS has done so far.

    Only the thread running that group's L-BFGS touches it (batched evaluations return
    values; the group's own objective records them).
    """

    def __init__(self, x0, threshold):
        self.x, self.f = x0, np.nan
        self.threshold = threshold  # of the gradient test
        self.start = None  # (x, f, grad) evaluated in setup, served to the first call
        self.scale = 1.0  # L-BFGS runs in x / scale: the length of its first step
        self.n_iter = 0
        self.curve = []
        self.best = None  # (f, x, grad): the lowest finite point evaluated
        self.last_grad = None
        self.non_finite = False  # an evaluation gave NaN or infinity
        self.stop, self.message = None, ""

    def observe(self, x, f, grad, largest):
        """Record an evaluation at ``x``; ``largest`` is ``max|grad|`` (NaN or infinite
        exactly when some entry of ``grad`` is)."""
        if not self.curve:
            self.curve.append(f)  # the first evaluation of a group is its start
        finite = np.isfinite(f) and np.isfinite(largest)
        if finite and (self.best is None or f < self.best[0]):
            self.best = (f, x.copy(), grad)
        self.non_finite |= not finite
        self.last_grad = grad


class _GradientTestPassed(Exception):
    """Raised by a group's objective at a point that passes the gradient test."""

    def __init__(self, x, f):
        super().__init__()
        self.x, self.f = x, f


def _final_x(state):
    """Where a group ends: its last point, or its best if L-BFGS broke down (it ended
    on non-finite numbers, or an evaluation gave some and the gradient test did not
    pass: L-BFGS-B then stops as if the objective had stopped decreasing)."""
    broke = not (np.all(np.isfinite(state.x)) and np.isfinite(state.f))
    broke |= state.non_finite and state.stop != "gradient"
    return state.best[1] if state.best is not None and broke else state.x


def _first_step(s, y, grad):
    """The scale of a warm start's L-BFGS: the length of the step ``-gamma grad`` with
    ``gamma = s.y / y.y`` of the secant pair ``(s, y)`` between warm start and guess,
    L-BFGS's own guess of the inverse Hessian from its second iteration on; 1 (L-BFGS's
    first step of unit length) where the pair shows no positive curvature."""
    sy, yy = float(s @ y), float(y @ y)
    length = sy / yy * float(np.linalg.norm(grad)) if sy > 0 and yy > 0 else 1.0
    return length if length > 0 and np.isfinite(length) else 1.0


def _max_abs(grad):
    return float(np.max(np.abs(grad), initial=0.0))


class LBFGSSolver:
    """L-BFGS-B for every group of an objective; see the module docstring.

    Parameters
    ----------
    tol : float
        The gradient test's threshold.
    max_iter : int
        Iterations per group, over all phases.
    verbose : int, default=0
        If positive, print a line per iteration and one per group at the end.
    label : str, default=""
        What the lines begin with (the estimator's name).
    on_iteration : callable, default=None
        ``on_iteration(g, f, W, b)`` after every iteration of group ``g``, with the
        coefficients then (float64, canonical).
    on_group_end : callable, default=None
        ``on_group_end(g, W, b)`` as soon as group ``g`` is done (from the thread that
        ran it), with its final coefficients.
    relative_warm_start : bool, default=False
        Hold the groups of a warm start to the relative gradient test (module
        docstring).
    """

    def __init__(
        self,
        *,
        tol,
        max_iter,
        verbose=0,
        label="",
        on_iteration=None,
        on_group_end=None,
        relative_warm_start=False,
    ):
        self.tol, self.max_iter = tol, max_iter
        self.verbose, self.label = verbose, label
        self.on_iteration, self.on_group_end = on_iteration, on_group_end
        self.relative_warm_start = relative_warm_start

    def solve(self, objective, init=None, guess=None):
        """Minimise every group; return a list of :class:`GroupResult`, one per group.

        ``init`` and ``guess`` are None or ``(coef, intercept)`` of all the outputs;
        ``guess`` is used with ``relative_warm_start`` only (module docstring).
        """
        with _tuning.blas_single_threaded():  # the warm starts' evaluations in setup too
            self.setup(objective, init, guess)
            self.run(self.objective, range(objective.n_groups), self.ftol)
            self.finish_float64()
        return self.finalize()

    # --- phases --------------------------------------------------------------------

    def setup(self, objective, init, guess=None):
        self.objective = objective
        self.states = [_GroupState(x0, self.tol) for x0 in objective.start(init)]
        if init is not None and self.relative_warm_start:
            self._hold_to_the_relative_test(objective, init, guess)
        rows = objective.rows
        # L-BFGS's relative-decrease test: scikit-learn's 64 eps suits float64; in
        # float32 the sum over rows is only known to about eps32 / sqrt(n_samples)
        # (rounding of the logits, independent across rows), and line searches below
        # that level burn evaluations on noise.
        self.ftol = 64 * np.finfo(np.float64).eps
        if objective.dtype != np.float64:
            noise = np.finfo(objective.dtype).eps / np.sqrt(rows.n_samples)
            self.ftol = max(self.ftol, _tuning.SETTINGS.ftol_noise * noise)
        settings = _tuning.SETTINGS
        side_by_side = min(objective.n_groups, settings.max_batch)
        self.batched = rows.n_entries * side_by_side >= settings.batch_work
        self.largest_batch = 0
        self.finished_in_float64 = []
        self.started = time.perf_counter()

    def run(self, objective, groups, ftol):
        """One L-BFGS per group in ``groups``, each with what is left of its budget."""
        groups = list(groups)

        def evaluate(batch):
            self.largest_batch = max(self.largest_batch, len(batch))
            return objective.loss_gradient(batch)

        def minimise(g, evaluate_one):
            self._minimise(g, evaluate_one, ftol)
            state = self.states[g]
            done = objective.dtype == np.float64 or state.stop == "gradient"
            if self.on_group_end is not None and (done or state.n_iter >= self.max_iter):
                self.on_group_end(g, *objective.coefficients(_final_x(state)))

        if len(groups) == 1 or not self.batched:
            for g in groups:
                minimise(g, lambda x, g=g: evaluate({g: x})[g])
        else:
            _lockstep.run_batched(groups, minimise, evaluate, _tuning.SETTINGS.max_batch)

    def finish_float64(self):
        """Continue a float32 fit's unfinished groups in float64 arithmetic.

        float32 logits are rounded to ~1e-7 of their size: where the loss is small
        against them (well separated classes) that rounding hides the last steps and
        the fit stops early. X's blocks are converted one at a time.
        """
        if self.objective.dtype == np.float64:
            return
        unfinished = [
            g
            for g, state in enumerate(self.states)
            if state.stop != "gradient" and state.n_iter < self.max_iter
        ]
        if not unfinished:
            return
        for g in unfinished:
            state = self.states[g]
            state.x, state.stop = _final_x(state), None
            state.non_finite = False  # a new phase, in other arithmetic
        self.finished_in_float64 = unfinished
        self.run(self.objective.in_float64(), unfinished, 64 * np.finfo(np.float64).eps)

    def finalize(self):
        results = []
        for g, state in enumerate(self.states):
            if _final_x(state) is not state.x:
                state.f, state.x, state.last_grad = state.best
                state.stop = "breakdown"
                state.message = "a step to non-finite numbers; the best point evaluated is kept"
            grad_max = np.nan if state.last_grad is None else _max_abs(state.last_grad)
            # a warm start stopped short of its relative test still passes tol: it is as
            # accurate as a fit from zero at tol would be
            converged = state.stop in _CONVERGED_STOPS or grad_max <= self.tol
            if state.curve and state.curve[-1] != state.f:
                state.curve.append(float(state.f))  # stopped inside an iteration
            coef, intercept = self.objective.coefficients(state.x)
            float64 = self.objective.dtype == np.float64 or g in self.finished_in_float64
            results.append(
                GroupResult(
                    coef=coef,
                    intercept=intercept,
                    n_iter=state.n_iter,
                    converged=bool(converged),
                    stop=state.stop,
                    message=state.message,
                    objective=float(state.f),
                    grad_max=grad_max,
                    curve=state.curve,
                    threshold=state.threshold,
                    data_loss=self._data_loss(g, state) if float64 else None,
                )
            )
            if self.verbose:
                self._print_end(g, results[-1])
        _tuning.record(
            "solve",
            n_groups=len(self.states),
            batched=self.batched and len(self.states) > 1,
            largest_batch=self.largest_batch,
            finished_in_float64=list(self.finished_in_float64),
            thresholds=[state.threshold for state in self.states],
        )
        return results

    def _data_loss(self, g, state):
        """``S_g (f_g - penalty)`` at the group's final point (None if not finite)."""
        objective = self.objective
        if not np.isfinite(state.f):
            return None
        W, _ = objective.preconditioner.to_model(*objective.unpack(state.x))
        penalty = objective.alpha[g] * objective.penalty.value(W) if objective.penalised else 0.0
        return float((state.f - penalty) * objective.S[g])

    def _hold_to_the_relative_test(self, objective, init, guess):
        """Thresholds measured at the warm starts; the better of warm start and guess."""
        cold = objective.gradient_at_zero()
        starts = [state.x for state in self.states]
        warm = objective.at_last_point(init, starts) or self._evaluate_all(objective, starts)
        ratios = []
        for g, (state, (f, grad)) in enumerate(zip(self.states, warm)):
            ratios.append(_max_abs(grad) / cold[g] if cold[g] > 0 else 1.0)
            state.threshold = self.tol * min(1.0, ratios[-1])
            state.start = (state.x, f, grad)
        if guess is None:
            return
        guesses = objective.start(guess)
        at_guesses = self._evaluate_all(objective, guesses)
        margin = _tuning.SETTINGS.path_margin
        for state, ratio, x, (f, grad) in zip(self.states, ratios, guesses, at_guesses):
            # the start is off by about the path's step: that, not the distance from
            # zero, is what a cold fit's reduction of its gradient is measured against
            step = np.linalg.norm(x - state.x) / np.linalg.norm(state.x)
            if step > 0 and np.isfinite(step):
                state.threshold = self.tol * min(1.0, ratio / (margin * step))
            warm_x, _, warm_grad = state.start
            if f < state.start[1] and np.all(np.isfinite(grad)):
                state.x, state.start = x, (x, f, grad)
            state.scale = _first_step(x - warm_x, grad - warm_grad, state.start[2])

    @staticmethod
    def _evaluate_all(objective, xs):
        """``[(f_g, grad_g)]`` at ``xs[g]`` for every group, batched as the solver batches."""
        size = _tuning.SETTINGS.max_batch
        out = []
        for first in range(0, len(xs), size):
            batch = dict(enumerate(xs[first : first + size], start=first))
            values = objective.loss_gradient(batch)
            out += [values[g] for g in sorted(values)]
        return out

    # --- one group -----------------------------------------------------------------

    def _minimise(self, g, evaluate_one, ftol):
        state = self.states[g]
        start, scale = state.x, state.scale
        self._lbfgs(g, evaluate_one, ftol)
        if state.stop == "line_search" and state.n_iter == 0 and scale != 1.0:
            # the scaled first step found no lower point: again with L-BFGS's own
            state.x, state.scale = start, 1.0
            self._lbfgs(g, evaluate_one, ftol)

    def _lbfgs(self, g, evaluate_one, ftol):
        state = self.states[g]
        # L-BFGS runs in u = x / scale (module docstring: the first step)
        scale, u0 = state.scale, state.x / state.scale

        def fun(u):
            if state.start is not None and np.array_equal(u, u0):
                x, f, grad = state.start  # evaluated in setup
                state.start = None
            else:
                x = u * scale
                f, grad = evaluate_one(x)
            largest = _max_abs(grad)
            state.observe(x, f, grad, largest)
            if largest <= state.threshold:
                raise _GradientTestPassed(x.copy(), f)
            return f, grad * scale

        def callback(intermediate_result):
            state.n_iter += 1
            x = intermediate_result.x * scale
            self._after_iteration(g, float(intermediate_result.fun), x)

        # The gradient test is ours (checked at every evaluation), so L-BFGS-B's is off.
        options = {
            "maxiter": self.max_iter - state.n_iter,
            "maxls": 50,
            "gtol": 0.0,
            "ftol": ftol,
        }
        try:
            if state.n_iter >= self.max_iter:
                # scipy's L-BFGS-B takes one iteration even at maxiter=0: the start only
                state.f = fun(u0)[0]
                state.stop, state.message = "max_iter", f"max_iter={self.max_iter} reached"
                return
            result = minimize(
                fun, u0, method="L-BFGS-B", jac=True, options=options, callback=callback
            )
        except _GradientTestPassed as stop:
            state.x, state.f = stop.x, stop.f
            state.stop, state.message = "gradient", f"max|grad| <= {self._test_words(state)}"
            return
        state.x, state.f = result.x * scale, float(result.fun)
        state.stop = _SCIPY_STOPS.get(result.status, "line_search")
        if state.stop == "max_iter" and state.n_iter < self.max_iter:
            state.stop = "max_evaluations"
        state.message = str(result.message)

    def _after_iteration(self, g, f, x):
        state = self.states[g]
        state.curve.append(f)
        if self.verbose:
            # L-BFGS evaluates the accepted point last: last_grad is its gradient.
            print(
                f"{self._prefix(g)} iter {state.n_iter:4d}  objective {f:.10g}  "
                f"max|grad| {_max_abs(state.last_grad):.3g}  "
                f"{time.perf_counter() - self.started:.3f} s",
                flush=True,
            )
        if self.on_iteration is not None:
            self.on_iteration(g, f, *self.objective.coefficients(x))

    def _prefix(self, g):
        name = self.objective.problem.group_name(g)
        return f"[{self.label}]" if name is None else f"[{self.label}, {name}]"

    def _print_end(self, g, result):
        if result.converged and result.stop not in _CONVERGED_STOPS:
            verdict = f"converged at tol={self.tol:g} ({_STOP_WORDS[result.stop]} first)"
        elif result.converged:
            verdict = f"converged ({_STOP_WORDS[result.stop]})"
        else:
            verdict = f"did not converge ({_STOP_WORDS[result.stop]}: {result.message})"
        print(
            f"{self._prefix(g)} {verdict} after {result.n_iter} iteration(s): objective "
            f"{result.objective:.10g}, max|grad| {result.grad_max:.3g}, "
            f"{self._test_words(self.states[g])}",
            flush=True,
        )

    def _test_words(self, state):
        """The gradient test's threshold, in messages."""
        if state.threshold == self.tol:
            return f"tol={self.tol:g}"
        return f"{state.threshold:.3g} (tol={self.tol:g}, relative to the warm start)"


_CONVERGED_STOPS = ("gradient", "decrease")  # the tests that mean converged
_STOP_WORDS = {
    "gradient": "the largest gradient entry is below tol",
    "decrease": "an iteration lowered the objective by less than ftol, its rounding noise",
    "max_iter": "max_iter reached",
    "max_evaluations": "too many evaluations",
    "line_search": "the line search found no lower point",
    "breakdown": "L-BFGS broke down",
}
