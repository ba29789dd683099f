"""The estimator base shared by both classifiers: parameters, validation, class weights.

``fit`` validates the data, lets the subclass encode the targets into a
:class:`~skmultinomial._driver.Problem`, and hands it to the L-BFGS driver
(``_driver.solve``), which minimises, for each separately fitted group of outputs::

    C * sum_i s_i * loss_i(W, b)  +  1/2 * ||W||_F^2            (b is not penalised)
"""

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._callbacks import CallbackSupportMixin, _CallbackBridge
from ._driver import solve
from ._inference import separated, summary_table
from .distributed import dask_aware, is_dask_collection


class _LinearNLLClassifier(CallbackSupportMixin, LinearClassifierMixin, BaseEstimator):
    """Base of the linear classifiers fitted by penalised maximum likelihood.

    Subclasses say how targets are encoded (``_encode_targets``, returning a
    ``Problem``) and how predictions are read off the logits; ``fit`` here does the rest.
    """

    _parameter_constraints: dict = {
        "C": [Interval(Real, 0, None, closed="right")],
        "fit_intercept": ["boolean"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "cov_type": [StrOptions({"nonrobust", "robust"}), None],
    }

    def __init__(
        self,
        *,
        C=1.0,
        fit_intercept=True,
        class_weight=None,
        label_smoothing=0.0,
        cov_type=None,
        tol=1e-4,
        max_iter=1000,
        warm_start=False,
        verbose=0,
    ):
        self.C = C
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.label_smoothing = label_smoothing
        self.cov_type = cov_type
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
        if is_dask_collection(X):
            from .distributed import validate_fit_data

            X, y, sample_weight = validate_fit_data(self, X, y, sample_weight)
        else:
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
            if sp.issparse(X) and not X.has_canonical_format:
                # Unsorted indices or duplicate entries: scipy would put them in order in
                # place, inside the caller's arrays. Work on a canonical copy instead.
                X = X.copy()
                X.sum_duplicates()
        problem = self._encode_targets(y, sample_weight)
        init = None
        if self.warm_start and getattr(self, "coef_", np.empty(0)).shape == (
            problem.n_outputs,
            X.shape[1],
        ):
            init = (self.coef_.astype(np.float64), self.intercept_.astype(np.float64))
        bridge = _CallbackBridge(self, X, y, sample_weight, problem)
        coef, intercept, results = solve(
            X,
            problem,
            C=self.C,
            fit_intercept=self.fit_intercept,
            tol=self.tol,
            max_iter=self.max_iter,
            verbose=self.verbose,
            init=init,
            label=type(self).__name__,
            on_iteration=bridge.iteration,
        )
        n_iter = np.array([r.nit for r in results], dtype=np.int32)
        self.loss_curve_ = self._loss_curve_attribute(
            [[float(v) for v in r.curve] for r in results]
        )
        failed = [(name, r) for name, r in zip(problem.names, results) if not r.converged]
        if failed:
            self._warn_not_converged(failed, len(results))
        elif np.isinf(self.C) and not is_dask_collection(X):
            self.coef_, self.intercept_ = coef, intercept  # for the check's predictions
            self._warn_if_separated(X, problem)
        self.coef_ = coef.astype(X.dtype)
        self.intercept_ = intercept.astype(X.dtype)
        self.n_iter_ = self._n_iter_attribute(n_iter)
        if self.cov_type is None:
            if hasattr(self, "cov_params_"):
                del self.cov_params_
        elif is_dask_collection(X):
            raise ValueError(
                "cov_type needs the Hessian over the training data, which is computed in "
                "memory: fit a Dask collection with cov_type=None."
            )
        else:
            self.cov_params_ = self._covariance(X, problem)
        bridge.end(coef, intercept)
        return self

    def summary(self, alpha=0.05):
        """Coefficients with standard errors, z, p-values and confidence intervals.

        Needs ``cov_type`` set when fitting (the covariance is computed from the
        training data, see ``cov_params_``). Sample weights count as frequency weights.
        For penalised fits (finite ``C``) the standard errors are those of the
        penalised estimator (sandwich ``A^-1 H A^-1``) and the intervals are centred on
        coefficients shrunk towards zero: they are not the intervals of the unpenalised
        maximum-likelihood estimate. Intervals and p-values use the normal
        distribution, as statsmodels' ``Logit`` and ``MNLogit`` do.

        Parameters
        ----------
        alpha : float, default=0.05
            The intervals cover ``1 - alpha``.

        Returns
        -------
        table : pandas.DataFrame
            Indexed by (class or label, term), terms the feature names (or ``x0``,
            ``x1``, ...) then ``"intercept"``; columns ``coef``, ``std_err``, ``z``,
            ``p_value``, ``ci_lower``, ``ci_upper``.
        """
        check_is_fitted(self)
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must lie in (0, 1), got {alpha}.")
        if not hasattr(self, "cov_params_"):
            raise ValueError(
                f"summary() needs the covariance of the coefficients, computed at fit time "
                f"from the training data: set {type(self).__name__}(cov_type='nonrobust') "
                "(or 'robust') and fit again."
            )
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            names = [f"x{j}" for j in range(self.n_features_in_)]
        terms = [*map(str, names), *(["intercept"] if self.fit_intercept else [])]
        coef, outputs, output_name = self._inference_coefficients()
        return summary_table(coef, self._full_covariance(), outputs, terms, alpha, output_name)

    def _full_covariance(self):
        return self.cov_params_

    def _terms(self):
        """float64 ``[coef_, intercept_]`` per output: the terms of the covariance."""
        full = np.column_stack([self.coef_, self.intercept_]).astype(np.float64)
        return full if self.fit_intercept else full[:, :-1]

    def _canonical_for_callbacks(self, W, b):
        """The coefficients of an intermediate iterate as ``coef_`` and ``intercept_``."""
        b = np.zeros(W.shape[0]) if b is None else b
        if W.shape[0] > 1:  # softmax: the zero-sum representative, as after fit
            W, b = W - W.mean(axis=0), b - b.mean()
        return W, b

    def _logits(self, X):
        """``X @ coef_.T + intercept_`` in float64 for validated X (1-D for one logit)."""
        Z = np.asarray(X @ self.coef_.T.astype(np.float64)) + self.intercept_
        return Z[:, 0] if Z.shape[1] == 1 else Z

    def _warn_if_separated(self, X, problem):
        """Unpenalised fits of separable data have no optimum: say so, once."""
        names = [
            where for where, Q, T, s in self._fitted_distributions(X, problem) if separated(Q, T, s)
        ]
        if names:
            where = (
                "" if names == [""] else " for" + ",".join(n.replace(" for", "", 1) for n in names)
            )
            warnings.warn(
                f"The training data are perfectly separated{where}: without a penalty "
                "(C=np.inf) the maximum-likelihood estimate does not exist, and the "
                "coefficients are wherever L-BFGS stopped (they grow without bound with "
                "a tighter tol). Use a finite C.",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _warn_not_converged(self, failed, n_problems):
        """One ConvergenceWarning for all the problems (labels) that did not converge."""
        name, result = failed[0]
        if result.nit >= self.max_iter:
            advice = (
                f"Increase max_iter (now {self.max_iter}). Fits that need many iterations "
                "are usually weakly penalised fits of (nearly) separable data, where the "
                "optimum is far out: a smaller C converges sooner."
            )
        else:
            advice = (
                "The line search could not lower the objective further: the fit is at "
                f"the limit of floating-point precision before reaching tol={self.tol:g}. "
                "A larger tol avoids this."
            )
        where = name
        if len(failed) > 1:
            shown = ", ".join(n.replace(" for ", "", 1) for n, _ in failed[:5])
            more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
            where = f" for {len(failed)} of {n_problems} labels ({shown}{more})"
        warnings.warn(
            f"L-BFGS did not converge{where} after {result.nit} iteration(s) "
            f"(status={result.status}: {result.message}). {advice}",
            ConvergenceWarning,
            stacklevel=3,
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

    def _class_weights(self, counts):
        """``class_weight`` as one weight per entry of ``classes_``, or None.

        ``counts`` are the weighted counts of the classes (the sums of the target
        columns), used by "balanced" as scikit-learn >= 1.9 does, so that integer
        weights and repeated rows give the same class weights.
        """
        if self.class_weight is None:
            return None
        if isinstance(self.class_weight, str):
            return _balanced(counts)
        classes = self.classes_.tolist()
        unknown = [key for key in self.class_weight if key not in classes]
        if unknown:
            raise ValueError(
                f"class_weight names classes that are not in the data: {unknown}. "
                f"The classes are {classes}."
            )
        return np.array([self.class_weight.get(c, 1.0) for c in classes], dtype=np.float64)

    @dask_aware
    def decision_function(self, X):
        """Logits ``X @ coef_.T + intercept_``: 1-D for a single logit.

        Parameters
        ----------
        X : {array-like, sparse matrix, Dask array} of shape (n_samples, n_features)
            Samples. A Dask array (or DataFrame) gives a lazy Dask array.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        return super().decision_function(X)

    @dask_aware
    def predict(self, X):
        """Predicted class of each sample (of a Dask array: a lazy Dask array).

        Parameters
        ----------
        X : {array-like, sparse matrix, Dask array} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        return super().predict(X)

    @dask_aware
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

    def score(self, X, y, sample_weight=None):
        """Mean accuracy of ``predict(X)`` against ``y`` (subset accuracy for multi-label).

        Soft targets are compared through their hard version: the most probable class
        of each target distribution, or each label's probability above 0.5. To score
        probabilities against soft targets, use
        :data:`skmultinomial.metrics.cross_entropy_scorer`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            True labels or target probabilities.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples.

        Returns
        -------
        score : float
        """
        return super().score(X, self._hard_targets(y), sample_weight=sample_weight)

    def _hard_targets(self, y):
        return y

    def _n_iter_attribute(self, n_iter):
        return n_iter

    def _loss_curve_attribute(self, curves):
        return curves

    def _check_target_kind(self, y, y_shape):
        """Hook: reject target kinds the estimator does not model, before validation."""

    def _smoothed(self, T, n_values):
        """Targets with ``label_smoothing`` applied: ``(1 - eps) T + eps / n_values``."""
        eps = self.label_smoothing
        return T if eps == 0 else (1 - eps) * T + eps / n_values


def _balanced(counts):
    """ "balanced" weights ``sum(counts) / (len(counts) * counts)``; 0 for an empty count."""
    counts = np.asarray(counts, dtype=np.float64)
    return np.divide(
        counts.sum(axis=0), len(counts) * counts, out=np.zeros_like(counts), where=counts > 0
    )
