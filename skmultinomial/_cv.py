"""Choosing C by cross-validation: what SoftmaxRegressionCV and SigmoidMultiLabelCV share.

``fit`` validates the data and encodes the targets once, on all of it (the classes and
"balanced" weights of the whole data set, as ``LogisticRegressionCV`` does), splits it,
fits the regularisation path of every fold (``_path.fit_fold``; folds in parallel with
joblib threads), and chooses for each group (the softmax's classes together, each
sigmoid label alone) the C whose score summed over the folds is best. With
``refit=True`` the model is then fitted on all the data at the chosen C, warm-started
from the mean over folds of the coefficients there and held to the relative gradient
test (``_solver.py``); with ``refit=False`` the model is that mean.

The fitting runs on a plain estimator of the model class (``_model_class``) built from
the shared parameters; the fitted model's attributes are then the cross-validated
estimator's, next to the path's. The subclasses say how a scorer sees each group
(``_group_views``) and which score :meth:`score` uses by default (``_default_scorer``).
"""

import copy
import inspect
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.base import _fit_context
from sklearn.metrics import get_scorer, get_scorer_names, make_scorer
from sklearn.model_selection import check_cv
from sklearn.utils import Bunch, metadata_routing
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _raise_for_params,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.validation import _check_method_params, check_is_fitted

from ._arrays import as_float64, namespace_of
from ._diagnostics import warn_path_not_converged
from ._path import HeldOutLikelihood, fit_fold
from ._validation import target_names
from .distributed import is_dask_collection

__all__ = ["CrossValidatedC", "parameter_constraints"]

#: The parameters of the cross-validation, beside those of the model.
CV_PARAMETERS = {
    "Cs": [Interval(Integral, 1, None, closed="left"), "array-like"],
    "cv": ["cv_object"],
    "scoring": [StrOptions(set(get_scorer_names())), callable, None],
    "refit": ["boolean"],
    "n_jobs": [Integral, None],
}


def parameter_constraints(model_class):
    """The model's parameter constraints without ``C`` and ``warm_start``, and the CV's."""
    shared = model_class._parameter_constraints
    own = {k: v for k, v in shared.items() if k not in ("C", "warm_start")}
    # the refit's cov_type: "cluster" would need the groups, which go to the splitter
    own["cov_type"] = [StrOptions({"nonrobust", "robust"}), None]
    return {**own, **CV_PARAMETERS}


class CrossValidatedC:
    """``fit``, ``score`` and metadata routing of the cross-validated estimators.

    Subclasses set ``_model_class`` and ``_default_scorer`` and implement
    ``_group_views``; see the module docstring.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.array_api_support = False  # the folds' paths run on NumPy and SciPy data
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, **params):
        """Choose C by cross-validation along a warm-started path; then refit.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets, as for the model (see the class docstring).
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples, in every fit and in the scores.
        **params : dict
            With metadata routing enabled (``sklearn.set_config(
            enable_metadata_routing=True)``), metadata for the splitter (``groups``)
            and the scorer, as ``LogisticRegressionCV`` routes them.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        routed = self._routed_params(sample_weight, params)
        if is_dask_collection(X):
            raise TypeError(
                f"{type(self).__name__} fits in-memory data (its folds are row subsets); "
                "compute the Dask collection first, or choose C with a model fitted on it."
            )
        if namespace_of(X) is not None:
            raise TypeError(
                f"{type(self).__name__} fits NumPy arrays, SciPy sparse matrices and "
                "DataFrames; under array_api_dispatch it got an array of another namespace "
                "or device. Choose C on a NumPy copy (e.g. X.cpu().numpy()), then fit "
                f"{self._model_class.__name__}(C=C_) on the device."
            )
        names = target_names(y)
        X, y, sample_weight = self._validate_fit_data(X, y, sample_weight)
        model = self._model_class(**self._model_params())
        model.n_features_in_ = X.shape[1]
        problem = model._encode_targets(y, sample_weight, names)
        scored = model._encode_targets(y, sample_weight, names, as_given=True)
        if self.cov_type is not None:
            if not self.refit:
                raise ValueError(
                    "cov_type is computed for the refitted model: set refit=True, or "
                    "cov_type=None (the mean of the folds' coefficients has no covariance)."
                )
            model._check_covariance_size(X, problem)  # before any work
        Cs = self._grid()
        folds = list(check_cv(self.cv, y, classifier=True).split(X, y, **routed.splitter.split))
        score = self._fold_scores(X, y, model, scored, routed.scorer.score)
        # joblib's default backend (processes: the evaluations of small folds are too
        # short to leave Python, and threads would queue for its lock); a user's
        # joblib.parallel_config(backend=...) chooses another
        paths = Parallel(n_jobs=self.n_jobs)(
            delayed(self._fit_fold)(X, problem, train, score(test), Cs, k)
            for k, (train, test) in enumerate(folds)
        )
        failed = [(f, k, g, r) for f, path in enumerate(paths) for k, g, r in path.failed]
        warn_path_not_converged(problem, Cs, failed, len(paths), self.tol, self.max_iter)
        self._forget_fitted()
        best, coefs = self._set_path(problem, Cs, paths)
        self._refit(model, X, y, sample_weight, problem, best, coefs)
        return self

    def _refit(self, model, X, y, sample_weight, problem, best, coefs):
        """The model at each group's chosen C (``Cs_[best[g]]``): refitted from the folds'
        mean coefficients there, or (``refit=False``) that mean; its attributes become
        this estimator's."""
        mean = np.concatenate(
            [coefs[:, best[g], outputs].mean(axis=0) for g, outputs in enumerate(problem.groups)]
        )
        W = mean[:, : X.shape[1]]
        init = (W, mean[:, -1] if self.fit_intercept else np.zeros(len(W)))
        if self.refit:
            if hasattr(self, "feature_names_in_"):
                model.feature_names_in_ = self.feature_names_in_  # the summary's terms
            C = self.Cs_[best]  # one per group
            make_rows = model._row_sources(X, None)
            dtype = sample_weight.dtype  # X's
            model._fit_problem(
                X, y, sample_weight, problem, make_rows, dtype, C, init, relative=True
            )
            del model.n_iter_  # the path's are this estimator's
        else:
            model.coef_, model.intercept_ = (part.astype(X.dtype) for part in init)
        vars(self).update({k: v for k, v in vars(model).items() if k.endswith("_")})

    def _fit_fold(self, X, problem, train, score, Cs, k):
        with score:
            return fit_fold(
                X[train],
                problem.subset(rows=train),
                Cs,
                score,
                fit_intercept=self.fit_intercept,
                tol=self.tol,
                max_iter=self.max_iter,
                verbose=self.verbose,
                label=f"{type(self).__name__}, fold {k}",
            )

    def _fold_scores(self, X, y, model, scored, score_params):
        """``score(test)``: the scores of a fold's path points on its held-out rows."""
        if self.scoring is None:
            return lambda test: HeldOutLikelihood(X[test], scored, test)
        codes = _hard_codes(scored)
        if (
            self.scoring == "neg_log_loss"
            and codes is not None
            and set(score_params) <= {"sample_weight"}
        ):

            def log_loss(test):
                params = _check_method_params(X, params=score_params, indices=test)
                return _HeldOutLogLoss(self, model, X[test], y[test], codes[test], params)

            return log_loss
        scorer = get_scorer(self.scoring)

        def score(test):
            params = _check_method_params(X, params=score_params, indices=test)
            return _HeldOutScorer(self, model, scorer, X[test], y[test], params)

        return score

    def _set_path(self, problem, Cs, paths):
        """The path's attributes (per group, squeezed for a single problem) and the
        choice: each group's C of the best score summed over folds.

        Returns ``(best, coefs)``: the index in ``Cs`` of each group's C, and the
        coefficients of shape (n_folds, n_Cs, n_outputs, n_terms).
        """
        scores = np.stack([p.scores for p in paths]).transpose(2, 0, 1)  # groups, folds, Cs
        n_iter = np.stack([p.n_iter for p in paths]).transpose(2, 0, 1)
        coefs = np.stack([p.coefs for p in paths])
        best = np.argmax(scores.sum(axis=1), axis=1)
        self.Cs_ = Cs
        if self._single_problem:
            self.C_, self.scores_, self.n_iter_ = float(Cs[best[0]]), scores[0], n_iter[0]
            self.coefs_paths_ = coefs
        else:
            self.C_, self.scores_, self.n_iter_ = Cs[best], scores, n_iter
            self.coefs_paths_ = np.moveaxis(coefs, 2, 0)  # labels first
        return best, coefs

    def _forget_fitted(self):
        """Drop the fitted attributes of an earlier fit (not this fit's validation)."""
        for name in [n for n in vars(self) if n.endswith("_")]:
            if name not in ("n_features_in_", "feature_names_in_"):
                delattr(self, name)

    def _model_params(self):
        params = self.get_params(deep=False)
        return {k: v for k, v in params.items() if k not in CV_PARAMETERS}

    def _grid(self):
        """``Cs`` as the array of Cs to fit, in order."""
        if isinstance(self.Cs, Integral):
            return np.logspace(-4, 4, self.Cs)
        Cs = np.asarray(self.Cs, dtype=np.float64)
        if Cs.ndim != 1 or Cs.size == 0 or not np.all(Cs > 0):
            raise ValueError(
                "Cs must be an int (that many values from 1e-4 to 1e4) or a 1-D list of "
                f"positive numbers (np.inf for no penalty), got {self.Cs!r}."
            )
        return Cs

    def _routed_params(self, sample_weight, params):
        """Metadata for the splitter and the scorer, as ``LogisticRegressionCV`` routes it."""
        if _routing_enabled():
            return process_routing(self, "fit", sample_weight=sample_weight, **params)
        _raise_for_params(params, self, "fit")
        score = {} if sample_weight is None else {"sample_weight": sample_weight}
        return Bunch(splitter=Bunch(split={}), scorer=Bunch(score=score))

    # score's sample_weight is the scorer's to request (with metadata routing enabled),
    # not the estimator's: LogisticRegressionCV's convention
    __metadata_request__score = {"sample_weight": metadata_routing.UNUSED}

    def score(self, X, y, sample_weight=None, **score_params):
        """The score that chose C, on ``(X, y)``; for several labels, their mean.

        ``scoring``'s scorer, or for ``scoring=None`` minus the mean cross-entropy of the
        probabilities against ``y`` (per label for the sigmoids, as the path was
        scored).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets, as for ``fit``.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in the score. With metadata routing enabled, a
            ``scoring`` scorer gets them only if it requests them
            (``set_score_request(sample_weight=True)``), as in ``LogisticRegressionCV``;
            the default score always weighs by them.
        **score_params : dict
            With metadata routing enabled, further metadata that the scorer requests.

        Returns
        -------
        score : float
            The score (greater is better).
        """
        check_is_fitted(self)
        _raise_for_params(score_params, self, "score")
        params = {} if sample_weight is None else {"sample_weight": sample_weight}
        if _routing_enabled() and self.scoring is not None:
            params = process_routing(self, "score", **score_params, **params).scorer.score
        elif _routing_enabled():  # the default score weighs, and requests nothing else
            process_routing(self, "score", **score_params)  # refuses what is not routed
        scorer = self._scorer()
        scores = [
            _with_labels(scorer, view.classes_)(view, X, targets, **params)
            for view, targets in self._group_views(self, y)
        ]
        return float(np.mean(scores))

    def get_metadata_routing(self):
        """Routing of the metadata to the splitter and the scorer (see ``fit``).

        Returns
        -------
        routing : MetadataRouter
            The splitter's and the scorer's requests, as scikit-learn routes them.
        """
        return (
            MetadataRouter(owner=type(self).__name__)
            .add_self_request(self)
            .add(
                splitter=check_cv(self.cv),
                method_mapping=MethodMapping().add(caller="fit", callee="split"),
            )
            .add(
                scorer=self._scorer(),
                method_mapping=MethodMapping()
                .add(caller="fit", callee="score")
                .add(caller="score", callee="score"),
            )
        )

    def _scorer(self):
        """``scoring``'s scorer, or the default score's."""
        return self._default_scorer if self.scoring is None else get_scorer(self.scoring)

    # --- hooks of the subclasses ----------------------------------------------------

    def _group_views(self, model, y):
        """``[(estimator, targets)]`` of each group, for a scorer: the fitted ``model``
        (or views of it) and ``y`` as the group's scorer sees them."""
        raise NotImplementedError


class _HeldOutScorer:
    """A scikit-learn scorer of each group at a path point, on a fold's held-out rows."""

    def __init__(self, estimator, model, scorer, X, y, params):
        self.estimator, self.model, self.scorer = estimator, model, scorer
        self.X, self.y, self.params = X, y, params
        self.scorers = None  # one per group, with the group's labels

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return None

    def _point(self, coef, intercept, C):
        """The model at a path point."""
        point = copy.copy(self.model)
        point.coef_, point.intercept_, point.C = coef, intercept, C
        return point

    def __call__(self, coef, intercept, C):
        views = self.estimator._group_views(self._point(coef, intercept, C), self.y)
        if self.scorers is None:
            self.scorers = [_with_labels(self.scorer, view.classes_) for view, _ in views]
        return np.array([self._score(g, view, t) for g, (view, t) in enumerate(views)])

    def _score(self, g, view, targets):
        """Group g's score: its view of the point and its targets, by its scorer."""
        return self.scorers[g](view, self.X, targets, **self.params)


class _HeldOutLogLoss(_HeldOutScorer):
    """``"neg_log_loss"`` of each group at a path point, computed here from the point's
    ``predict_proba`` (of each group's view, as the scorer sees it) as scikit-learn's
    scorer computes it (the probabilities of the true classes clipped to ``[eps, 1 -
    eps]``, minus the weighted mean of their ``-log``; of two classes, the positive
    column ``p`` and ``1 - p``), without
    the scorer's validation of every call: on small folds that validation took longer
    than the fits. For hard targets (``codes``, the class index of each row and group),
    and ``sample_weight`` as the only score parameter; else ``_HeldOutScorer``."""

    def __init__(self, estimator, model, X, y, codes, params):
        super().__init__(estimator, model, None, X, y, params)
        self.codes, self.weights = codes, params.get("sample_weight")
        self.scorers = []  # none: the score is computed in _score

    def _score(self, g, view, targets):
        proba, codes = self._proba(view), self.codes[:, g]
        if proba.shape[1] == 2:  # the scorer takes the positive column: p0 = 1 - p1
            true = np.where(codes == 1, proba[:, 1], 1 - proba[:, 1])
        else:
            true = proba[np.arange(len(codes)), codes]
        eps = np.finfo(np.float64).eps
        return np.average(np.log(np.clip(true, eps, 1 - eps)), weights=self.weights)

    def _proba(self, view):
        """``view.predict_proba(X)`` of the held-out rows, without validating them again
        where they are NumPy's or SciPy's (0.09 against 0.41 ms for a label's view of
        4,000 x 60): ``decision_function``'s logits, the view's own probabilities."""
        X = self.X
        if not (isinstance(X, np.ndarray) or sp.issparse(X)):
            return view.predict_proba(X)
        Z = as_float64(np.asarray(X @ view.coef_.T) + view.intercept_)
        return np.exp(view._log_proba(Z.ravel() if Z.shape[1] == 1 else Z))


def _hard_codes(problem):
    """The class index of each row in each group, shape (n_samples, n_groups), of targets
    as given that are hard labels; None for target distributions (soft targets)."""
    T = problem.T
    if T.ndim == 1:  # class indices of one softmax group
        return T[:, None]
    if not np.all((T == 0) | (T == 1)):
        return None
    return T.astype(np.intp)  # a single logit's, or each sigmoid label's, 0/1


def _with_labels(scorer, classes):
    """``scorer`` told the classes, when its metric takes ``labels``: a fold's held-out
    rows may lack a class. What ``LogisticRegressionCV`` does for its folds."""
    metric = getattr(scorer, "_score_func", None)
    if metric is None or "labels" not in inspect.signature(metric).parameters:
        return scorer
    kwargs = {"labels": classes}
    if len(classes) == 2 and "pos_label" in inspect.signature(metric).parameters:
        kwargs["pos_label"] = classes[-1]
    return make_scorer(
        metric,
        greater_is_better=scorer._sign == 1,
        response_method=scorer._response_method,
        **{**kwargs, **getattr(scorer, "_kwargs", {})},
    )
