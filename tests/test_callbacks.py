"""scikit-learn's fit callbacks (>= 1.9): every iteration with its coefficients, any budget."""

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_wine
from sklearn.model_selection import GridSearchCV

from skmultinomial import SigmoidMultiLabelClassifier, SoftmaxRegressionClassifier, _tuning

callback_module = pytest.importorskip("sklearn.callback", reason="scikit-learn < 1.9")


class Recorder:
    """A FitCallback that records the tasks it sees and the iterates' coefficients."""

    def __init__(self):
        self.begun, self.ended, self.coefs = [], [], []

    def setup(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context, **kwargs):
        self.begun.append(context.task_name)

    def on_fit_task_end(self, estimator, context, *, fitted_estimator):
        self.ended.append(context.task_name)
        if context.task_name == "lbfgs-iter" and fitted_estimator is not None:
            self.coefs.append(fitted_estimator.coef_)
        return False

    def teardown(self, estimator, context):
        pass


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_callbacks_see_every_iteration_with_its_coefficients(fit_intercept):
    X, y = load_digits(return_X_y=True)
    X, y = X[:400] / 16, y[:400]
    assert isinstance(Recorder(), callback_module.FitCallback)
    recorder = Recorder()
    clf = SoftmaxRegressionClassifier(fit_intercept=fit_intercept)
    clf.set_callbacks(recorder).fit(X, y)
    assert recorder.begun.count("lbfgs-iter") == clf.n_iter_ + 1  # + the one that never ran
    assert recorder.ended.count("fit") == 1
    # the iterates approach the fitted coefficients (the fit may stop inside the next
    # iteration, at a point its gradient test accepts)
    distances = [np.linalg.norm(coef - clf.coef_) for coef in recorder.coefs]
    assert distances[-1] < 0.05 * distances[0]
    assert recorder.coefs[0].shape == clf.coef_.shape


@pytest.mark.parametrize("max_iter", [0, 1, 2])
@pytest.mark.parametrize("Estimator", [SoftmaxRegressionClassifier, SigmoidMultiLabelClassifier])
def test_callbacks_with_a_budget_of_zero_or_one_iteration(Estimator, max_iter):
    X, y = load_wine(return_X_y=True)
    recorder = Recorder()
    with pytest.warns(Warning, match="max_iter"):
        clf = Estimator(max_iter=max_iter).set_callbacks(recorder).fit(X, y)
    assert np.max(clf.n_iter_) == max_iter
    assert recorder.ended.count("fit") == 1
    if Estimator is SoftmaxRegressionClassifier:
        assert recorder.ended.count("lbfgs-iter") == max_iter + 1


def test_progress_bar_and_nested_grid_search():
    pytest.importorskip("rich")
    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16, y[:300]
    Y = np.column_stack([y % 2 == 0, y > 4]).astype(int)
    bar = callback_module.ProgressBar()
    SoftmaxRegressionClassifier().set_callbacks(bar).fit(X, y)
    SigmoidMultiLabelClassifier().set_callbacks(bar).fit(X, Y)
    search = GridSearchCV(SoftmaxRegressionClassifier(), {"C": [0.1, 1.0]}, cv=2)
    search.set_callbacks(callback_module.ProgressBar()).fit(X, y)
    assert search.best_estimator_.n_iter_ > 0


@pytest.mark.parametrize("batched", [False, True])
def test_each_label_reports_as_soon_as_its_fit_is_done(batched, capsys):
    # label 0 is easy (few iterations), label 1 hard (many): label 0's subtask must
    # arrive while label 1 still iterates, not at the end of the fit
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 6))
    Y = np.column_stack([rng.random(400) < 0.5, X[:, 0] + 0.01 * X[:, 1] > 0]).astype(int)

    class Printer(Recorder):
        def on_fit_task_end(self, estimator, context, *, fitted_estimator):
            print(f"END {context.task_name} {context.task_id}", flush=True)
            return super().on_fit_task_end(estimator, context, fitted_estimator=fitted_estimator)

    with _tuning.override(batch_work=0 if batched else np.inf):
        clf = SigmoidMultiLabelClassifier(C=1e4, tol=1e-8, verbose=1)
        clf.set_callbacks(Printer()).fit(X, Y)
    assert clf.n_iter_[1] > clf.n_iter_[0] + 5
    lines = capsys.readouterr().out.splitlines()
    end_0 = lines.index("END label 0")
    label_1_iterations = [i for i, line in enumerate(lines) if "label 1] iter" in line]
    assert end_0 < label_1_iterations[-1]
    assert lines.index("END label 1") < lines.index("END fit 0")


def test_the_softmax_declares_no_total_of_iterations():
    # a total of max_iter + 1 made progress bars read "3%, 2:58 left" for fits that
    # end in seconds
    class Totals(Recorder):
        def __init__(self):
            super().__init__()
            self.totals = {}

        def on_fit_task_begin(self, estimator, context, **kwargs):
            self.totals.setdefault(context.task_name, context.max_subtasks)

    X, y = load_wine(return_X_y=True)
    X = X / X.max(axis=0)
    softmax, sigmoid = Totals(), Totals()
    SoftmaxRegressionClassifier(max_iter=500).set_callbacks(softmax).fit(X, y)
    SigmoidMultiLabelClassifier().set_callbacks(sigmoid).fit(X, np.eye(3)[y])
    assert softmax.totals == {"fit": None, "lbfgs-iter": 0}
    assert sigmoid.totals == {"fit": 3, "label": 0}  # one subtask per label
