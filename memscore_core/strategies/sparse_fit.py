"""A sparse linear fit of responses' divergence on which memories a mask removed (pure, deterministic).

``removed[k, m]`` says whether mask ``k`` removed memory ``m``; ``divergence[k]`` is the response's signed
divergence under mask ``k``. The model is ``divergence ≈ b + Σ_m w_m · removed[k, m]``: ``w_m`` estimates what
removing ``m`` alone costs the response. Columns are standardised, the L1 penalty is chosen by 5-fold
cross-validation (scikit-learn's ``LassoCV``), and the fit's quality is the R² of out-of-fold predictions at
that penalty: how much of the divergence across masks the weights predict on masks they were not fitted on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FOLDS = 5
ALPHAS = 40
MIN_SAMPLES = 2 * FOLDS


@dataclass(frozen=True)
class SparseFit:
    """Per-memory weights (nats) and the held-out R² (None when the divergence never varied)."""

    weights: npt.NDArray[np.float64]
    r2: float | None


def fit_sparse(removed: npt.NDArray[np.bool_], divergence: npt.NDArray[np.float64]) -> SparseFit:
    """Weights of the sparse linear model of ``divergence`` on ``removed`` (see the module docstring).

    >>> rng = np.random.default_rng(0)
    >>> masks = rng.random((64, 10)) < 0.5
    >>> fit = fit_sparse(masks, 3.0 * masks[:, 2] + 0.01 * rng.standard_normal(64))
    >>> int(np.argmax(fit.weights)), round(float(fit.weights[2]), 1), fit.r2 > 0.99
    (2, 3.0, True)
    """
    samples, memories = removed.shape
    weights = np.zeros(memories)
    features = removed.astype(np.float64)
    scale = features.std(axis=0)
    varying = scale > 0
    if samples < MIN_SAMPLES or not varying.any() or float(np.ptp(divergence)) == 0.0:
        return SparseFit(weights, None)
    centred = (features[:, varying] - features[:, varying].mean(axis=0)) / scale[varying]
    from sklearn.linear_model import Lasso, LassoCV  # imported here: ~1.5 s that only surrogate fits need
    from sklearn.model_selection import KFold

    folds = KFold(FOLDS)
    chosen = LassoCV(alphas=ALPHAS, cv=folds, max_iter=20_000).fit(centred, divergence)
    weights[varying] = chosen.coef_ / scale[varying]
    predicted = np.empty(samples)
    for train, test in folds.split(centred):
        fold = Lasso(alpha=chosen.alpha_, max_iter=20_000).fit(centred[train], divergence[train])
        predicted[test] = fold.predict(centred[test])
    total = float(np.sum((divergence - divergence.mean()) ** 2))
    return SparseFit(weights, 1.0 - float(np.sum((divergence - predicted) ** 2)) / total)
