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
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.utils._array_api import get_namespace
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data

from . import _tuning
from ._arrays import check_same_namespace, namespace_of, take_labels, to_host
from ._callbacks import CallbackSupportMixin, _CallbackBridge
from ._diagnostics import FitDiagnosticsMixin, separation_message
from ._inference import InferenceMixin
from ._objective import Objective, Problem
from ._rows import InMemoryRows, NamespaceRows
from ._solver import LBFGSSolver
from ._targets import balanced
from ._validation import check_sample_weight, shown, target_names, warn_at_caller
from .distributed import DaskFitData, dask_aware, is_dask_collection, score_dask


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
        "cov_type": [StrOptions({"nonrobust", "robust", "cluster"}), None],
    }

    def __init__(
        self,
        *,
        C=1.0,
        fit_intercept=True,
        class_weight=None,
        label_smoothing=0.0,
        cov_type=None,
        tol=1e-5,
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
        tags.array_api_support = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, groups=None):
        """Fit the model by penalised maximum likelihood with L-BFGS.

        Parameters
        ----------
        X : {array-like, sparse matrix, Dask collection} of shape (n_samples, n_features)
            Training data. float32 data is fitted in float32 and gives float32 ``coef_``.
            Under ``sklearn.config_context(array_api_dispatch=True)``, an array of
            another namespace (PyTorch, CuPy) is fitted in that namespace on its device,
            and the fitted attributes are arrays of it (README, "Array API and GPUs").
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets, see the class docstring. Of any namespace and device: targets (and
            weights, and groups) are encoded on the host and follow X.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample; a weight of 2 counts as the row twice.
        groups : array-like of shape (n_samples,), default=None
            The cluster of each sample, for ``cov_type="cluster"`` (and only for it).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        space = namespace_of(X)  # (xp, device) of an X fitted in its own namespace
        if space is not None:
            y, sample_weight, groups = to_host(y), to_host(sample_weight), to_host(groups)
        if is_dask_collection(X):
            problem, make_rows, dtype = self._prepare_dask(X, y, sample_weight, groups)
        else:
            names = target_names(y)
            X, y, sample_weight = self._validate_fit_data(X, y, sample_weight)
            problem = self._encode_targets(y, sample_weight, names)
            if self.cov_type is not None:
                self._check_covariance_size(X, problem)  # before any work
            make_rows = self._row_sources(X, groups, space)
            dtype = sample_weight.dtype  # X's, as a NumPy dtype
        init, previous = self._warm_start(problem, self.n_features_in_)
        results = self._fit_problem(X, y, sample_weight, problem, make_rows, dtype, self.C, init)
        if previous is not None:
            self._warn_if_warm_start_stalled(problem, results, previous, dtype)
        return self

    def _encode_targets(self, y, sample_weight, target_names, as_given=False):
        """Set ``classes_`` (and the like) from validated in-memory y; return the
        ``Problem``. With ``as_given``, the targets as they are, weighted by
        ``sample_weight`` alone: without label smoothing, class or positive weights
        (what a held-out score compares the model's probabilities with)."""
        encode, meta = self._fit_targets(self._target_stats(y, sample_weight), target_names)
        if as_given:
            encode, meta = encode.as_given(), {**meta, "totals": None}
        return Problem(*encode(y, sample_weight), **meta)

    def _row_sources(self, X, groups, space=None):
        """``make_rows(problem, width)``: the row source of validated in-memory X with a
        problem's targets (in X's namespace and on its device for ``space``)."""
        clusters, n_clusters = self._clusters(groups, X)
        if space is None and _tuning.SETTINGS.namespace_numpy:
            space = namespace_of(X, dispatch=False)

        def make_rows(problem, width):
            T, s = problem.T, problem.sample_weight
            if space is not None:
                return NamespaceRows(X, T, s, width, *space, clusters, n_clusters)
            return InMemoryRows(X, T, s, width, None, clusters, n_clusters)

        return make_rows

    def _fit_problem(self, X, y, sample_weight, problem, make_rows, dtype, C, init, relative=False):
        """Fit an encoded problem from ``init`` (or zeros) and set the fitted attributes.

        ``C`` is one value for all groups, or one per group (the labels of a
        cross-validated sigmoid): the groups that share a C are fitted together, on a
        row source of their own (``make_rows(problem, width)``). ``relative`` holds a
        warm start to the relative gradient test (``_solver.py``). Returns the
        solver's results, one per group.
        """
        bridge = _CallbackBridge(self, X, y, sample_weight, problem)
        C = np.broadcast_to(np.asarray(C, dtype=np.float64), (len(problem.groups),))
        results = [None] * len(problem.groups)
        width = problem.batch_width()
        with make_rows(problem, width) as rows:
            for value in dict.fromkeys(C.tolist()):  # each C once, in order
                groups = np.flatnonzero(C == value)
                solver = LBFGSSolver(
                    tol=self.tol,
                    max_iter=self.max_iter,
                    verbose=self.verbose,
                    label=type(self).__name__,
                    on_iteration=_renumbered(bridge.on_iteration, groups),
                    on_group_end=_renumbered(bridge.on_group_end, groups),
                    relative_warm_start=relative,
                )
                if groups.size == C.size:
                    objective = Objective(rows, problem, C=value, fit_intercept=self.fit_intercept)
                    results = solver.solve(objective, init)
                    continue
                part = problem.subset(groups=groups)  # in memory: the labels at this C
                outputs = np.concatenate([problem.groups[g] for g in groups])
                part_init = None if init is None else (init[0][outputs], init[1][outputs])
                with make_rows(part, width) as part_rows:
                    objective = Objective(
                        part_rows, part, C=value, fit_intercept=self.fit_intercept
                    )
                    for g, result in zip(groups, solver.solve(objective, part_init)):
                        results[g] = result
            self._set_fitted(rows, X, problem, results, dtype, C)
        bridge.end()
        return results

    def _warm_start(self, problem, n_features):
        """``(init, previous)``: the coefficients to start from (or None) and the
        objective each group of the previous fit ended at."""
        shape = (problem.n_outputs, n_features)
        if not (self.warm_start and getattr(self, "coef_", np.empty(0)).shape == shape):
            return None, None
        init = (to_host(self.coef_).astype(np.float64), to_host(self.intercept_).astype(np.float64))
        curves = [self.loss_curve_] if self._single_problem else self.loss_curve_
        return init, [curve[-1] for curve in curves]

    def _set_fitted(self, rows, X, problem, results, dtype, C):
        """The fitted attributes from the solver's results; statistics; warnings.

        ``C`` holds the C of each group."""
        coef = np.vstack([r.coef for r in results])
        intercept = np.concatenate([r.intercept for r in results])
        n_iter = np.array([r.n_iter for r in results], dtype=np.int32)
        curves = [[float(v) for v in r.curve] for r in results]
        self.loss_curve_ = curves[0] if self._single_problem else curves
        self.n_iter_ = rows.fitted_array(n_iter)  # shape (1,) for one problem, as scikit-learn's
        for name in ("cov_params_", "_summary_", "_inference_"):  # of an earlier fit
            if hasattr(self, name):
                delattr(self, name)
        separated, unpenalised = [], np.flatnonzero(np.isinf(C))
        if unpenalised.size and not is_dask_collection(X):
            separated = self._check_separation(X, problem, unpenalised)
        if separated and self.cov_type is not None:
            raise ValueError(separation_message(separated, with_cov_type=True))
        polished = False
        if self.cov_type is not None:
            coef, intercept, polished = self._fit_inference(rows, problem, coef, intercept, C)
        failed = [(g, r) for g, r in enumerate(results) if not r.converged]
        if separated:  # the cause of a failure to converge, if any: said instead
            warn_at_caller(separation_message(separated, with_cov_type=False), ConvergenceWarning)
        elif failed and not polished:
            self._warn_not_converged(problem, failed)
        known = [r.data_loss for r in results]
        if polished or any(loss is None for loss in known):
            known = None  # the statistics' own float64 pass at the final coefficients
        self._fit_statistics_at(rows, problem, coef, intercept, known)
        self.coef_ = rows.fitted_array(coef.astype(dtype))
        self.intercept_ = rows.fitted_array(intercept.astype(dtype))
        if hasattr(self, "cov_params_"):
            self.cov_params_ = rows.fitted_array(self.cov_params_)

    def _clusters(self, groups, X):
        """Cluster codes of ``groups`` (or None), checked against ``cov_type``."""
        if groups is None:
            if self.cov_type == "cluster":
                raise ValueError(
                    "cov_type='cluster' needs the cluster of each sample: fit(X, y, groups=...)."
                )
            return None, 0
        if self.cov_type != "cluster":
            raise ValueError(
                "groups= gives the clusters of cov_type='cluster', and this estimator has "
                f"cov_type={self.cov_type!r}: set cov_type='cluster' or drop groups."
            )
        if is_dask_collection(X):
            return None, 0  # encoded with the chunks
        from sklearn.utils.validation import column_or_1d

        labels, codes = np.unique(column_or_1d(np.asarray(groups)), return_inverse=True)
        if codes.size != X.shape[0]:
            raise ValueError(
                "Found input variables with inconsistent numbers of samples: "
                f"[{X.shape[0]}, {codes.size}] (X and groups)"
            )
        if labels.size < 2:
            raise ValueError("cov_type='cluster' needs at least 2 clusters in groups.")
        return codes.ravel(), labels.size

    def _prepare_dask(self, X, y, sample_weight, groups):
        """``(problem, make_rows, dtype)`` of a fit on a Dask collection: the targets'
        statistics from a distributed pass, their encoding left to the chunks."""
        from ._dask_rows import DaskRows

        data = DaskFitData(self, X, y, sample_weight, groups)
        encode, meta = self._fit_targets(data.target_stats(self._target_stats), data.target_names)
        problem = Problem(None, None, **meta)
        if self.cov_type is not None:
            self._check_covariance_size(data.X, problem)  # before any work

        def make_rows(part, width):  # the whole problem: no subsets on Dask
            return DaskRows(data, encode, width)

        return problem, make_rows, data.X.dtype

    def _validate_fit_data(self, X, y, sample_weight):
        """``validate_data`` and the sample weights of an in-memory fit."""
        y_shape = y.shape if sp.issparse(y) else np.shape(np.asarray(y))
        self._check_targets(y, y_shape)
        xp, _ = get_namespace(X)
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            dtype=[xp.float64, xp.float32],
            multi_output=len(y_shape) == 2 and y_shape[1] > 1,
        )
        # weights on the host, in X's dtype, whatever X's namespace
        dtype = np.dtype("float32" if X.dtype == xp.float32 else "float64")
        sample_weight = check_sample_weight(sample_weight, X.shape[0], dtype=dtype)
        if sp.issparse(X) and not X.has_canonical_format:
            # Unsorted indices or duplicate entries: scipy would put them in order in
            # place, inside the caller's arrays. Work on a canonical copy instead.
            X = X.copy()
            X.sum_duplicates()
        return X, y, sample_weight

    def _logits(self, X, coef, intercept):
        """``X @ coef.T + intercept`` in float64 for validated X, shape (n_samples, n_outputs)."""
        return np.asarray(X @ coef.T.astype(np.float64)) + intercept

    def _check_classes(self, labels):
        """The classes of 1-D labels (their sorted distinct values): at least two."""
        if labels.size < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the data, "
                f"but the data contains only one class: {shown(labels[0])}."
            )
        return labels

    def _class_weights(self, counts):
        """``class_weight`` as one weight per entry of ``classes_``, or None.

        ``counts`` are the weighted counts of the classes (the sums of the target
        columns), used by "balanced" as scikit-learn >= 1.9 does, so that integer
        weights and repeated rows give the same class weights.
        """
        if self.class_weight is None:
            return None
        if isinstance(self.class_weight, str):
            return balanced(counts)
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
            The logits: 1-D, of ``classes_[1]``, for a single logit (two classes),
            else one column per class or label.
        """
        check_same_namespace(X, self, "decision_function")
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
            The predicted class of each sample, an entry of ``classes_``.
        """
        check_same_namespace(X, self, "predict")
        proba = self.predict_proba(X)
        xp, _ = get_namespace(proba)
        return take_labels(self.classes_, xp.argmax(proba, axis=1))

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
        check_same_namespace(X, self, "predict_proba")
        log_proba = self.predict_log_proba(X)
        xp, _ = get_namespace(log_proba)
        return xp.exp(log_proba)

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
            The (weighted) fraction of samples whose prediction equals ``y``.
        """
        if is_dask_collection(X):
            return score_dask(self, X, y, sample_weight)
        y, sample_weight = to_host(y), to_host(sample_weight)
        predicted = to_host(self.predict(X))
        return float(accuracy_score(self._hard_targets(y), predicted, sample_weight=sample_weight))

    # --- hooks of the subclasses ----------------------------------------------------

    def _check_targets(self, y, y_shape):
        """Reject target kinds the estimator does not model, before validation."""

    @staticmethod
    def _target_stats(y, sample_weight):
        """``TargetStats`` of (a piece of) validated targets (``_targets.py``); it runs
        where the piece is, on a Dask worker for a distributed fit."""
        raise NotImplementedError

    def _fit_targets(self, stats, target_names):
        """Set ``classes_`` (and the like) from the merged statistics; return ``(encode,
        meta)``: the encoder of a piece of targets, and the ``Problem``'s other fields
        (link, n_outputs, group names, weight totals). ``target_names`` are the column
        names of a 2-D pandas y, or None."""
        raise NotImplementedError

    def predict_log_proba(self, X):
        """Log-probabilities of the classes (or labels), computed in log space."""
        raise NotImplementedError

    def _log_proba(self, Z):
        """:meth:`predict_log_proba` of the float64 logits ``Z`` (as
        :meth:`decision_function` gives them)."""
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
