"""Records Optuna's TPE on a small categorical space as the reference for libolive's TPE.

Run once with optuna installed (not a test dependency):
    python tests/data/search/record_optuna_tpe.py > tests/data/search/optuna_tpe.json

The sampler is configured as Olive configures it (multivariate, group, seed 1), the parameters
are categorical over indices as Olive suggests them, and the objective is a fixed table, so the
run is reproducible. As Olive does, a proposal that repeats a point already tried is left
unanswered and Optuna is asked again (an unanswered trial stays RUNNING, which TPE ignores), so
the recorded trials are distinct points. For every trial after the startup trials it records the Parzen estimators'
log densities l(x) and g(x) at every point of the space, built from the trials before it, and
the point Optuna proposed.
"""
import itertools
import json
import sys

import numpy as np
import optuna

CHOICES = [4, 3, 3, 2]
N_TRIALS = 40


def objective(x):
    # A fixed, bumpy table over the points: lower is better.
    a, b, c, d = x
    return float((a - 2) ** 2 + 0.7 * (b - 1) ** 2 + 0.4 * c + (0.3 if d else 0.0) + 0.05 * ((a * 7 + b * 3 + c) % 5))


def main():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(multivariate=True, group=True, seed=1)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    names = [f"p{i}" for i in range(len(CHOICES))]
    points = list(itertools.product(*[range(n) for n in CHOICES]))
    space = {n: optuna.distributions.CategoricalDistribution(list(range(k))) for n, k in zip(names, CHOICES)}
    trials, steps = [], []
    for t in range(N_TRIALS):
        if t >= sampler._n_startup_trials:
            done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
            below, above = optuna.samplers._tpe.sampler._split_trials(study, done, optuna.samplers._tpe.sampler.default_gamma(len(done)))
            l = sampler._build_parzen_estimator(study, space, below, handle_below=True)
            g = sampler._build_parzen_estimator(study, space, above, handle_below=False)
            grid = {n: np.array([p[i] for p in points], dtype=float) for i, n in enumerate(names)}
            log_l, log_g = l.log_pdf(grid), g.log_pdf(grid)
        while True:
            trial = study.ask()
            x = [trial.suggest_categorical(n, list(range(k))) for n, k in zip(names, CHOICES)]
            if all(x != tr["params"] for tr in trials):
                break
        value = objective(x)
        study.tell(trial, value)
        trials.append({"params": x, "value": value})
        if t >= sampler._n_startup_trials:
            acq = log_l - log_g
            tried = {tuple(tr["params"]) for tr in trials[:-1]}
            best_new = max(a for p, a in zip(points, acq) if p not in tried)
            # Optuna takes the best of 24 draws from l(x); record whether that was the best untried point.
            steps.append({"trial": t, "log_l": log_l.tolist(), "log_g": log_g.tolist(), "proposal": x,
                          "proposal_is_best_new": bool(acq[points.index(tuple(x))] >= best_new - 1e-12)})
    json.dump({"optuna": optuna.__version__, "choices": CHOICES, "n_startup_trials": sampler._n_startup_trials,
               "trials": trials, "steps": steps}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
