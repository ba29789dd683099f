"""
Fitting the annotators' votes instead of their majority
=======================================================

Five annotators label each digit image; each is right 65% of the time and otherwise names
a digit that looks alike (a 3 for an 8, a 7 for a 1, ...). Majority vote keeps one label
per image and throws the disagreement away. ``SoftmaxRegressionClassifier`` can fit the
vote fractions themselves, as target distributions.

Question: on new images, which fit predicts better -- the majority-vote labels, the same
labels with label smoothing, or the vote fractions? Judged two ways: against what the
annotators say (cross-entropy against the held-out vote fractions), and against the
true digit (log loss).

Answer (the figure): the soft-target fit predicts the annotators' disagreement best --
its probabilities are those of the votes, by construction of its objective -- while the
majority vote, which is right far more often than one annotator, predicts the true digit
more sharply. Fit what you want predicted. ``C`` is chosen for each fit by
``GridSearchCV`` with ``KFold`` and the cross-entropy scorer (scikit-learn's stratified
splitters cannot stratify soft targets; ``cv=5`` falls back to ``KFold`` for them by
itself).
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, KFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmultinomial import SoftmaxRegressionClassifier
from skmultinomial.metrics import cross_entropy, cross_entropy_scorer

rng = np.random.default_rng(0)
X, digit = load_digits(return_X_y=True)

# Five noisy annotators: right with probability 0.65, else a look-alike digit.
look_alike = np.array([6, 7, 3, 8, 9, 6, 5, 1, 3, 4])
votes = np.zeros((digit.size, 10))
for _ in range(5):
    right = rng.random(digit.size) < 0.65
    said = np.where(
        right,
        digit,
        np.where(rng.random(digit.size) < 0.7, look_alike[digit], rng.integers(0, 10, digit.size)),
    )
    votes[np.arange(digit.size), said] += 1
soft = votes / votes.sum(axis=1, keepdims=True)
majority = soft.argmax(axis=1)

X_train, X_test, soft_train, soft_test, majority_train, _, _, digit_test = train_test_split(
    X, soft, majority, digit, test_size=0.4, random_state=0
)
grid = {"softmaxregressionclassifier__C": np.logspace(-3, 1, 9)}
folds = KFold(5, shuffle=True, random_state=0)

fits = {
    "majority vote": (SoftmaxRegressionClassifier(), majority_train),
    "majority vote,\nlabel smoothing 0.2": (
        SoftmaxRegressionClassifier(label_smoothing=0.2),
        majority_train,
    ),
    "vote fractions\n(soft targets)": (SoftmaxRegressionClassifier(), soft_train),
}
votes_ce, truth_ll = {}, {}
for name, (clf, target) in fits.items():
    search = GridSearchCV(
        make_pipeline(StandardScaler(), clf), grid, cv=folds, scoring=cross_entropy_scorer
    )
    search.fit(X_train, target)
    proba = search.predict_proba(X_test)
    votes_ce[name] = cross_entropy(soft_test, proba)
    truth_ll[name] = log_loss(digit_test, proba, labels=np.arange(10))
    accuracy = np.mean(search.predict(X_test) == digit_test)
    best_C = search.best_params_["softmaxregressionclassifier__C"]
    print(
        f"{name.replace(chr(10), ' '):36s} C={best_C:<6.3g} cross-entropy vs votes "
        f"{votes_ce[name]:.3f}  log loss vs true digits {truth_ll[name]:.3f}  "
        f"accuracy {accuracy:.3f}"
    )

fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
colors = ["#888", "#bbb", "#2a7"]
for ax, values, title in [
    (axes[0], votes_ce, "What will the annotators say?\ncross-entropy vs held-out votes"),
    (axes[1], truth_ll, "What is the digit?\nlog loss vs true digits"),
]:
    bars = ax.bar(list(values), list(values.values()), color=colors)
    ax.bar_label(bars, fmt="%.3f")
    ax.set_title(title)
    ax.set_ylabel("lower is better (test set)")
    ax.margins(y=0.15)
fig.suptitle("Fitting majority votes or vote fractions (5 annotators, 65% accurate)")
fig.tight_layout()
fig.savefig("plot_soft_targets.png", dpi=100)
plt.show()
