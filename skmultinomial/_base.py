"""The estimator base shared by both classifiers: parameters, validation, the fit.

``fit`` validates the data, lets the subclass encode the targets into a
:class:`~skmultinomial._objective.Problem`, builds the row source of X (in memory, or a
Dask array's chunks) and the :class:`~skmultinomial._objective.Objective` (whose
docstring states the formula), and hands it to the
:class:`~skmultinomial._solver.LBFGSSolver`. Subclasses only say how targets are encoded
and how predictions and statistics are read off the logits: they implement
``_encode_targets`` and ``predict_log_proba`` (declared at the end of
:class:`_LinearNLLClassifier`) and the inference hooks of
:class:`~skmultinomial._inference.InferenceMixin` (``_group_distributions``,
``_summary_outputs``); ``_check_targets``, ``_hard_targets`` and ``_reference_index``
have defaults.
"""

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from ._callbacks import CallbackSupportMixin, _CallbackBridge
from ._diagnostics import FitDiagnosticsMixin
from ._inference import InferenceMixin
from ._objective import Objective
from ._rows import InMemoryRows
from ._solver import LBFGSSolver
from ._validation import check_sample_weight, shown, target_names
from .distributed import DaskRows, dask_aware, is_dask_collection


class _LinearNLLClassifier(
    FitDiagnosticsMixin, InferenceMixin, CallbackSupportMixin, LinearClassifierMixin, BaseEstimator
):
    """Base of the linear classifiers fitted by penalised maximum likelihood.

    The objective is that of ``_objective.Objective``; see the module docstring for
    what subclasses provide.
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
        names = target_names(y)
        X, y, sample_weight = self._validate_fit_data(X, y, sample_weight)
        problem = self._encode_targets(y, sample_weight, names)
        if self.cov_type is not None:
            self._check_covariance_size(X, problem)  # before any work
        init, previous = self._warm_start(problem, X.shape[1])
        results = self._fit_problem(X, y, sample_weight, problem, self.C, init)
        if previous is not None:
            self._warn_if_warm_start_stalled(problem, results, previous, X.dtype)
        return self

    def _fit_problem(self, X, y, sample_weight, problem, C, init, relative=False):
        """Fit an encoded problem from ``init`` (or zeros) and set the fitted attributes.

        ``C`` is one value for all groups, or one per group (the labels of a
        cross-validated sigmoid): the groups that share a C are fitted together.
        ``relative`` holds a warm start to the relative gradient test
        (``_solver.py``). Returns the solver's results, one per group.
        """
        bridge = _CallbackBridge(self, X, y, sample_weight, problem)
        C = np.broadcast_to(np.asarray(C, dtype=np.float64), (len(problem.groups),))
        results = [None] * len(problem.groups)
        for value in dict.fromkeys(C.tolist()):  # each C once, in order
            groups = np.flatnonzero(C == value)
            part = problem.subset(groups=groups) if groups.size < C.size else problem
            solver = LBFGSSolver(
                tol=self.tol,
                max_iter=self.max_iter,
                verbose=self.verbose,
                label=type(self).__name__,
                on_iteration=_renumbered(bridge.on_iteration, groups),
                on_group_end=_renumbered(bridge.on_group_end, groups),
                relative_warm_start=relative,
            )
            if init is not None and part is not problem:
                outputs = np.concatenate([problem.groups[g] for g in groups])
                part_init = (init[0][outputs], init[1][outputs])
            else:
                part_init = init
            with _row_source(X, part) as rows:
                objective = Objective(rows, part, C=value, fit_intercept=self.fit_intercept)
                for g, result in zip(groups, solver.solve(objective, part_init)):
                    results[g] = result
        self._set_fitted(X, problem, results, C)
        bridge.end()
        return results

    def _warm_start(self, problem, n_features):
        """``(init, previous)``: the coefficients to start from (or None) and the
        objective each group of the previous fit ended at."""
        shape = (problem.n_outputs, n_features)
        if not (self.warm_start and getattr(self, "coef_", np.empty(0)).shape == shape):
            return None, None
        init = (self.coef_.astype(np.float64), self.intercept_.astype(np.float64))
        curves = [self.loss_curve_] if self._single_problem else self.loss_curve_
        return init, [curve[-1] for curve in curves]

    def _set_fitted(self, X, problem, results, C):
        """The fitted attributes from the solver's results; statistics; warnings.

        ``C`` holds the C of each group.
        """
        coef = np.vstack([r.coef for r in results])
        intercept = np.concatenate([r.intercept for r in results])
        n_iter = np.array([r.n_iter for r in results], dtype=np.int32)
        curves = [[float(v) for v in r.curve] for r in results]
        self.loss_curve_ = curves[0] if self._single_problem else curves
        self.n_iter_ = int(n_iter[0]) if self._single_problem else n_iter
        for name in ("cov_params_", "_summary_"):  # of an earlier fit
            if hasattr(self, name):
                delattr(self, name)
        polished = False
        if self.cov_type is not None:
            if is_dask_collection(X):
                raise ValueError(
                    "cov_type needs the Hessian over the training data, which is computed "
                    "in memory: fit a Dask collection with cov_type=None."
                )
            coef, intercept, polished = self._fit_inference(X, problem, coef, intercept, C)
        failed = [(g, r) for g, r in enumerate(results) if not r.converged]
        if failed and not polished:
            self._warn_not_converged(problem, failed)
        elif np.isinf(C).any() and not is_dask_collection(X):
            self._warn_if_separated(X, problem, coef, intercept, np.flatnonzero(np.isinf(C)))
        self.coef_ = coef.astype(X.dtype)
        self.intercept_ = intercept.astype(X.dtype)

    def _validate_fit_data(self, X, y, sample_weight):
        """``validate_data`` and the sample weights, for in-memory or Dask X."""
        if is_dask_collection(X):
            from .distributed import validate_fit_data

            return validate_fit_data(self, X, y, sample_weight)
        y_shape = y.shape if sp.issparse(y) else np.shape(np.asarray(y))
        self._check_targets(y, y_shape)
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
            multi_output=len(y_shape) == 2 and y_shape[1] > 1,
        )
        sample_weight = check_sample_weight(sample_weight, X, dtype=X.dtype)
        if sp.issparse(X) and not X.has_canonical_format:
            # Unsorted indices or duplicate entries: scipy would put them in order in
            # place, inside the caller's arrays. Work on a canonical copy instead.
            X = X.copy()
            X.sum_duplicates()
        return X, y, sample_weight

    def _encode_classes(self, y):
        """Set ``classes_`` from 1-D labels; return the class index of each sample."""
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the data, "
                f"but the data contains only one class: {shown(self.classes_[0])}."
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
                f"class_weight names classes that are not in the data: {shown(unknown)}. "
                f"The classes are {shown(classes)}."
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
        """The most probable class of each sample (of a Dask array: a lazy Dask array).

        Taken from the numbers of :meth:`predict_proba` (ties go to the first class), so
        that ``predict(X) == classes_[argmax(predict_proba(X))]`` holds exactly, also
        where two logits differ in their last bit.

        Parameters
        ----------
        X : {array-like, sparse matrix, Dask array} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)  # first: it checks that the model is fitted
        return self.classes_[np.argmax(proba, axis=1)]

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

    # --- hooks of the subclasses ----------------------------------------------------

    def _check_targets(self, y, y_shape):
        """Reject target kinds the estimator does not model, before validation."""

    def _encode_targets(self, y, sample_weight, target_names, as_given=False):
        """Set ``classes_`` (and the like) from validated y; return the ``Problem``.

        ``target_names`` are the column names of a 2-D pandas y, or None. With
        ``as_given``, the targets as they are, weighted by ``sample_weight`` alone:
        without label smoothing, class or positive weights (what a score compares the
        model's probabilities with).
        """
        raise NotImplementedError

    def predict_log_proba(self, X):
        """Log-probabilities of the classes (or labels), computed in log space."""
        raise NotImplementedError

    def _hard_targets(self, y):
        """The labels that :meth:`score` compares ``predict`` with (soft targets made hard)."""
        return y


def _renumbered(hook, groups):
    """A solver hook ``hook(g, ...)`` of a problem's groups, called by the solver of a
    part of them (``groups``, numbered from 0 there); None stays None."""
    if hook is None:
        return None
    return lambda g, *args: hook(int(groups[g]), *args)


def _row_source(X, problem):
    """Where the objective's sums over rows are computed: in memory, or on Dask workers."""
    return (DaskRows if is_dask_collection(X) else InMemoryRows).for_problem(X, problem)


def _balanced(counts):
    """ "balanced" weights ``sum(counts) / (len(counts) * counts)``; 0 for an empty count."""
    counts = np.asarray(counts, dtype=np.float64)
    return np.divide(
        counts.sum(axis=0), len(counts) * counts, out=np.zeros_like(counts), where=counts > 0
    )
