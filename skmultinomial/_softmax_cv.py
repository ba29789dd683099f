"""SoftmaxRegressionCV: the softmax regression with C chosen by cross-validation."""

from ._cv import CrossValidatedC, parameter_constraints
from ._softmax import SoftmaxRegressionClassifier
from .metrics import cross_entropy_scorer

__all__ = ["SoftmaxRegressionCV"]


class SoftmaxRegressionCV(CrossValidatedC, SoftmaxRegressionClassifier):
    """Softmax regression with C chosen by cross-validation along a warm-started path.

    The model and its objective are those of
    :class:`~skmultinomial.SoftmaxRegressionClassifier`::

        C * sum_i s_i * sum_k cw_k t_ik [logsumexp(z_i) - z_ik]  +  1/2 * ||W||_F^2

    For each fold, the training rows are fitted at every C of ``Cs`` in turn, each fit
    starting from the solution at the previous C, and every fit is scored on the fold's
    held-out rows. ``C_`` is the C of the best score summed over the folds; with
    ``refit=True`` the model is then fitted on all the data at ``C_``, starting from the
    folds' mean coefficients there. This is ``LogisticRegressionCV``'s procedure, and
    on the same folds it chooses the same C with the same scores.

    The targets are encoded once, on all the data: ``classes_`` are those of the whole
    data set (a fold that lacks a class still fits all of them), and ``"balanced"``
    class weights are counted on it. Label smoothing and class weights shape every fit;
    scores compare the probabilities with the targets as given.

    Parameters
    ----------
    Cs : int or array-like of shape (n_Cs,), default=10
        The path: an int gives ``np.logspace(-4, 4, Cs)`` (as ``LogisticRegressionCV``);
        or the Cs themselves, fitted in the order given (``np.inf`` fits without
        penalty).
    cv : int, cross-validation generator or iterable, default=None
        The folds: None is 5, an int that many folds, stratified for class labels and
        plain ``KFold`` for target distributions; or any splitter or iterable of
        ``(train, test)`` index arrays. With metadata routing enabled, ``groups`` given to
        ``fit`` reach the splitter (e.g. ``GroupKFold``).
    scoring : str or callable, default=None
        None scores a fit by minus the mean cross-entropy of its probabilities against
        the held-out targets, weighted by ``sample_weight`` (for labels,
        ``"neg_log_loss"``; for target distributions, the cross-entropy against them),
        computed in log space. Else any scikit-learn scorer (a name, or
        ``scorer(estimator, X, y)``); it is given ``sample_weight``, or with metadata
        routing what it requests.
    refit : bool, default=True
        Fit the model on all the data at ``C_``. If False, the model is the mean over the
        folds of their coefficients at ``C_`` (``LogisticRegressionCV`` instead averages
        each fold's coefficients at that fold's own best C, and reports their mean C).
    n_jobs : int, default=None
        Folds fitted in parallel, in joblib's default backend (worker processes; X is
        shared with them through memory maps) or the one ``joblib.parallel_config``
        sets; None is one at a time. Large folds already share their rows between the
        CPUs.
    fit_intercept : bool, default=True
        As for :class:`~skmultinomial.SoftmaxRegressionClassifier`, for every fit.
    class_weight : dict or "balanced", default=None
        As for :class:`~skmultinomial.SoftmaxRegressionClassifier`, for every fit.
    label_smoothing : float in [0, 1), default=0.0
        As for :class:`~skmultinomial.SoftmaxRegressionClassifier`, for every fit.
    classes : array-like of shape (n_classes,), default=None
        As for :class:`~skmultinomial.SoftmaxRegressionClassifier`, for every fit.
    cov_type : {"nonrobust", "robust"}, default=None
        As for :class:`~skmultinomial.SoftmaxRegressionClassifier`: computed for the
        refitted model (it needs ``refit=True``).
    reference_class : class label, default=None
        As for :class:`~skmultinomial.SoftmaxRegressionClassifier`, for every fit.
    tol : float, default=1e-4
        The gradient test of :class:`~skmultinomial.SoftmaxRegressionClassifier` for the
        first fit of each path, which starts from zero. The later fits, and the refit,
        start from a previous solution, where that test can pass at once far from the
        optimum (a weak penalty leaves the objective flat): each of them is held to the
        test made relative, ``tol * min(1, g_start / g_zero)``, so that it reduces its
        gradient (``g_start`` at its start) by at least the factor a fit from zero
        reduces its own (``g_zero``) by. A fit that reaches ``max_iter`` first has
        converged if its gradient is below ``tol`` (as a fit from zero would have); the
        others are named in one ``ConvergenceWarning`` for the whole path. The default
        is ``LogisticRegressionCV``'s, not the classifier's 1e-5: held to the relative
        test, the path at 1e-4 already scores closer to its exact scores than
        ``LogisticRegressionCV``'s at its 1e-4 (README, "Choosing C by
        cross-validation").
    max_iter : int, default=1000
        As for :class:`~skmultinomial.SoftmaxRegressionClassifier`, for every fit.
    verbose : int, default=0
        As for :class:`~skmultinomial.SoftmaxRegressionClassifier`, for every fit.

    Attributes
    ----------
    Cs_ : ndarray of shape (n_Cs,)
        The Cs of the path.
    C_ : float
        The chosen C.
    scores_ : ndarray of shape (n_folds, n_Cs)
        The score of each fold at each C (greater is better).
    coefs_paths_ : ndarray of shape (n_folds, n_Cs, n_outputs, n_features + 1)
        Each fold's coefficients at each C, the intercept last (without it when
        ``fit_intercept=False``); ``n_outputs`` is 1 for two classes, else
        ``n_classes``.
    n_iter_ : ndarray of shape (n_folds, n_Cs)
        L-BFGS iterations of each fit of the path.
    classes_, coef_, intercept_, loss_curve_, cov_params_, reference_class_, \
n_features_in_, feature_names_in_
        Those of the refitted model (see
        :class:`~skmultinomial.SoftmaxRegressionClassifier`); with ``refit=False``,
        ``coef_`` and ``intercept_`` are the folds' mean, and there is no
        ``loss_curve_``.

    See Also
    --------
    SoftmaxRegressionClassifier : The model at a given C.
    SigmoidMultiLabelCV : One sigmoid per label, each with its own C.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skmultinomial import SoftmaxRegressionCV
    >>> X, y = load_iris(return_X_y=True)
    >>> model = make_pipeline(StandardScaler(), SoftmaxRegressionCV(Cs=5)).fit(X, y)
    >>> search = model[-1]
    >>> search.Cs_.tolist(), search.C_
    ([0.0001, 0.01, 1.0, 100.0, 10000.0], 100.0)
    >>> search.scores_.shape
    (5, 5)
    >>> model.predict(X[:3])
    array([0, 0, 0])
    """

    _model_class = SoftmaxRegressionClassifier
    _default_scorer = cross_entropy_scorer
    _parameter_constraints: dict = parameter_constraints(SoftmaxRegressionClassifier)

    def __init__(
        self,
        *,
        Cs=10,
        cv=None,
        scoring=None,
        refit=True,
        n_jobs=None,
        fit_intercept=True,
        class_weight=None,
        label_smoothing=0.0,
        classes=None,
        cov_type=None,
        reference_class=None,
        tol=1e-4,
        max_iter=1000,
        verbose=0,
    ):
        self.Cs = Cs
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.n_jobs = n_jobs
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.label_smoothing = label_smoothing
        self.classes = classes
        self.cov_type = cov_type
        self.reference_class = reference_class
        self.tol = tol
        self.max_iter = max_iter
        self.verbose = verbose

    def _group_views(self, model, y):
        return [(model, y)]  # one group: the model itself
