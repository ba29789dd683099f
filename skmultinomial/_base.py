"""The estimator base shared by both classifiers: parameters, validation and the L-BFGS driver.

The driver minimises, for one block of outputs (all softmax classes, or one sigmoid label)::

    C * sum_i s_i * loss_i(W, b)  +  1/2 * ||W||_F^2            (b is not penalised)

divided by ``C * sum_i s_i`` as scikit-learn's ``LogisticRegression(solver="lbfgs")``
does, so that ``tol`` stops where it stops there. The loss itself comes from
:func:`skmultinomial._loss.chunk_loss_grad`, evaluated over blocks of rows so that
temporaries stay of size (block, n_outputs).
"""

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, validate_data
from threadpoolctl import threadpool_limits

from ._loss import chunk_loss_grad

# Rows per block are chosen so that one block of logits holds about this many numbers.
_BLOCK_ELEMENTS = 1 << 18
# Below this many multiply-adds per evaluation, BLAS threads cost more than they save
# (the optimiser's small vector operations pay the thread wake-up on every call).
_SINGLE_THREAD_WORK = 1 << 24


class _LinearNLLClassifier(LinearClassifierMixin, BaseEstimator):
    """Base of the linear classifiers fitted by penalised maximum likelihood.

    Subclasses say how targets are encoded (``_encode_targets``) and which outputs are
    fitted together (``_fit_problems``); ``fit`` here does the rest.
    """

    _parameter_constraints: dict = {
        "C": [Interval(Real, 0, None, closed="right")],
        "fit_intercept": ["boolean"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        C=1.0,
        fit_intercept=True,
        class_weight=None,
        tol=1e-4,
        max_iter=100,
        warm_start=False,
        verbose=0,
    ):
        self.C = C
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model by penalised maximum likelihood with L-BFGS.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. float32 data is fitted in float32 and gives float32 ``coef_``.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets, see the class docstring.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample; a weight of 2 counts as the row twice.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        y_shape = y.shape if sp.issparse(y) else np.shape(np.asarray(y))
        self._check_target_kind(y, y_shape)
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
            multi_output=len(y_shape) == 2 and y_shape[1] > 1,
        )
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=X.dtype, ensure_non_negative=True
        )
        problems = self._encode_targets(y, sample_weight)

        n_outputs = sum(p.n_outputs for p in problems)
        coef = np.zeros((n_outputs, X.shape[1]), dtype=X.dtype)
        intercept = np.zeros(n_outputs, dtype=X.dtype)
        warm = self.warm_start and hasattr(self, "coef_") and self.coef_.shape == coef.shape
        n_iter = []
        work = X.shape[0] * X.shape[1] * max(n_outputs, 1)
        with threadpool_limits(1 if work < _SINGLE_THREAD_WORK else None, "blas"):
            start = 0
            for problem in problems:
                rows = slice(start, start + problem.n_outputs)
                start = rows.stop
                init = (self.coef_[rows], self.intercept_[rows]) if warm else None
                coef[rows], intercept[rows], it = self._lbfgs(X, problem, init)
                n_iter.append(it)
        self.coef_ = coef
        self.intercept_ = intercept if self.fit_intercept else np.zeros_like(intercept)
        self.n_iter_ = self._n_iter_attribute(np.asarray(n_iter, dtype=np.int32))
        return self

    def _lbfgs(self, X, problem, init):
        """Minimise one problem's scaled objective; return (coef, intercept, n_iter)."""
        n_outputs, n_features = problem.n_outputs, X.shape[1]
        n_coef = n_outputs * n_features
        T, s = problem.T, problem.sample_weight
        S = float(s.sum(dtype=np.float64))
        if not S > 0:
            raise ValueError(
                "The sample weights, multiplied by the class weights, sum to zero"
                f"{problem.where}: there is nothing to fit. Give at least one sample "
                "of a class with non-zero class weight a positive sample_weight."
            )
        # sum_i s_i loss_i / S + ||W||^2 / (2 C S): the objective divided by C * S.
        alpha = 0.0 if np.isinf(self.C) else 1.0 / (self.C * S)
        block = max(1, _BLOCK_ELEMENTS // max(n_outputs, 1))
        n_samples = X.shape[0]
        link = problem.link
        dtype = X.dtype
        last = {}

        def objective(x):
            W = x[:n_coef].reshape(n_outputs, n_features)
            b = x[n_coef:] if self.fit_intercept else None
            Wd = W.astype(dtype, copy=False)
            bd = None if b is None else b.astype(dtype, copy=False)
            loss = 0.0
            grad = np.zeros_like(x)
            gW = grad[:n_coef].reshape(n_outputs, n_features)
            for lo in range(0, n_samples, block):
                hi = min(lo + block, n_samples)
                part, g_w, g_b = chunk_loss_grad(Wd, bd, X[lo:hi], T[lo:hi], s[lo:hi], link)
                loss += part
                gW += g_w
                if b is not None:
                    grad[n_coef:] += g_b
            loss /= S
            grad /= S
            if alpha:
                loss += 0.5 * alpha * float(np.dot(x[:n_coef], x[:n_coef]))
                grad[:n_coef] += alpha * x[:n_coef]
            last["loss"], last["grad"] = loss, grad
            return loss, grad

        x0 = np.zeros(n_coef + (n_outputs if self.fit_intercept else 0))
        if init is not None:
            x0[:n_coef] = init[0].ravel()
            if self.fit_intercept:
                x0[n_coef:] = init[1]

        def report(intermediate_result):
            report.n_iter += 1
            grad_norm = float(np.max(np.abs(last["grad"])))
            print(
                f"[{type(self).__name__}]{problem.where} iter {report.n_iter:4d}  "
                f"objective {intermediate_result.fun:.10g}  max|grad| {grad_norm:.3g}"
            )

        report.n_iter = 0
        result = minimize(
            objective,
            x0,
            method="L-BFGS-B",
            jac=True,
            callback=report if self.verbose else None,
            options={
                "maxiter": self.max_iter,
                "maxls": 50,
                "gtol": self.tol,
                "ftol": 64 * np.finfo(float).eps,
            },
        )
        n_iter = min(result.nit, self.max_iter)
        if result.status != 0:
            self._warn_not_converged(result, n_iter, problem.where)
        coef = result.x[:n_coef].reshape(n_outputs, n_features)
        intercept = result.x[n_coef:] if self.fit_intercept else np.zeros(n_outputs)
        coef, intercept = link.canonical(coef, intercept)
        return coef, intercept, n_iter

    def _warn_not_converged(self, result, n_iter, where):
        if n_iter >= self.max_iter:
            advice = (
                f"Increase max_iter (now {self.max_iter}), or standardise the features "
                "(e.g. StandardScaler in a Pipeline), which needs fewer iterations."
            )
        else:
            advice = (
                "The line search could not decrease the objective further: the fit is at "
                f"the limit of floating-point precision for tol={self.tol:g}; a larger tol "
                "or standardised features avoid this."
            )
        warnings.warn(
            f"L-BFGS did not converge{where} after {n_iter} iteration(s) "
            f"(status={result.status}: {result.message}). {advice}",
            ConvergenceWarning,
            stacklevel=4,
        )

    def _encode_classes(self, y):
        """Set ``classes_`` from 1-D labels; return the class index of each sample."""
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the data, "
                f"but the data contains only one class: {self.classes_.tolist()[0]!r}."
            )
        return codes

    def _class_weight_per_sample(self, y, codes, sample_weight):
        """``class_weight`` (a dict or "balanced") as a weight per sample of 1-D labels.

        "balanced" counts the samples by their weight, as scikit-learn >= 1.9 does, so
        that integer weights and repeated rows give the same class weights.
        """
        if self.class_weight is None:
            return 1.0
        if isinstance(self.class_weight, str):
            counts = np.bincount(codes, weights=sample_weight, minlength=self.classes_.size)
            return _balanced(counts)[codes]
        return compute_class_weight(self.class_weight, classes=self.classes_, y=y)[codes]

    def predict_proba(self, X):
        """Probability estimates, ``exp`` of :meth:`predict_log_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        return np.exp(self.predict_log_proba(X))

    def _n_iter_attribute(self, n_iter):
        return n_iter

    def _check_target_kind(self, y, y_shape):
        """Hook: reject target kinds the estimator does not model, before validation."""


def _balanced(counts):
    """ "balanced" weights ``sum(counts) / (len(counts) * counts)``; 0 for an empty count."""
    counts = np.asarray(counts, dtype=np.float64)
    return np.divide(
        counts.sum(axis=0), len(counts) * counts, out=np.zeros_like(counts), where=counts > 0
    )


class _Problem:
    """One L-BFGS problem: its encoded targets, row weights and link.

    ``where`` names the problem in messages (empty for a single problem).
    """

    def __init__(self, T, sample_weight, link, n_outputs, where=""):
        self.T = T
        self.sample_weight = sample_weight
        self.link = link
        self.n_outputs = n_outputs
        self.where = where
