"""Where ANS's gradient ascent puts the synthesized negatives, on trained heads.

On the validation splits of ``validate_defaults.py`` (CLINC150, frozen
all-MiniLM-L6-v2 features, never the test set), for each seed an
``ANSOneVsRestClassifier`` is fitted with the given parameters (default: the
estimator's defaults); then, with its trained heads (eval mode), negatives are
synthesized around every training sample of every head with
``n_ascent_steps`` steps of each ``--step-sizes`` (in units of the class
radius), two ways:

- ``once``: noise, the ascent steps, one projection onto the shell at the end
  (the paper's Algorithm 1; what :func:`~sklearn_openset.nn.synthesize_negatives`
  does);
- ``each step``: noise projected onto the shell first, then a projection after
  every step (what the library did before 2026-12-03).

It prints the share of synthesized negatives that lie in the positive region
of their own head (logit > 0) and their mean logit; step 0 is the projected
noise (``negative_synthesis="projection"``). Run from the repository root::

    python benchmarks/ans/bench_ascent.py --seeds 0 1 2 --threads 1
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/ans/

from _common import frozen_embeddings
from validate_defaults import validation_split

from sklearn_openset import ANSOneVsRestClassifier
from sklearn_openset.datasets import load_clinc150
from sklearn_openset.nn import project_to_shell


def synthesize(heads, z, radius, gamma, noise_std, n_steps, step_size, once):
    """Negatives around ``z`` (n_heads, m, d); the library's old rule if not ``once``."""
    inner = radius[:, None].expand(z.shape[:2])
    outer = gamma * inner
    z_tilde = z + torch.randn(z.shape) * noise_std[:, None, :]
    if not once:
        z_tilde = project_to_shell(z_tilde, z, inner, outer)
    step = (step_size * radius)[:, None, None]
    for _ in range(n_steps):
        z_tilde = z_tilde.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(F.softplus(heads(z_tilde)).sum(), z_tilde)
        direction = grad / torch.linalg.vector_norm(
            grad, dim=-1, keepdim=True
        ).clamp_min(1e-30)
        z_tilde = z_tilde.detach() + step * direction
        if not once:
            z_tilde = project_to_shell(z_tilde, z, inner, outer)
    return project_to_shell(z_tilde.detach(), z, inner, outer)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--params", default="{}", help="JSON: ANS parameters")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--ratio", type=float, default=0.5)
    parser.add_argument("--fraction", type=float, default=2 / 3)
    parser.add_argument(
        "--step-sizes", nargs="+", type=float, default=[0.01, 0.02, 0.05, 0.1, 0.2, 0.5]
    )
    parser.add_argument("--n-steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    raw = load_clinc150()
    X_train = frozen_embeddings(raw.text_train)
    X_dev = frozen_embeddings(raw.text_dev)
    rows = {}  # (scheme, step) -> [(share, mean logit) per seed]
    for seed in args.seeds:
        X, y, _, _ = validation_split(
            raw, X_train, X_dev, seed, args.ratio, args.fraction
        )
        clf = ANSOneVsRestClassifier(random_state=seed, **json.loads(args.params))
        clf.fit(X, y)
        module = clf.net_.module_.eval()
        heads = module.heads
        for p in heads.parameters():
            p.requires_grad_(False)
        encoded = np.searchsorted(clf.classes_, y)
        m = np.bincount(encoded).min()
        rng = np.random.RandomState(seed)
        index = np.stack(
            [
                rng.choice(np.flatnonzero(encoded == c), m, replace=False)
                for c in range(len(clf.classes_))
            ]
        )
        z = module.standardize(torch.as_tensor(X[index], dtype=torch.float32))
        settings = [("projection", 0.0)] + [
            (scheme, s) for s in args.step_sizes for scheme in ("once", "each step")
        ]
        for scheme, step in settings:
            torch.manual_seed(seed)
            z_tilde = synthesize(
                heads,
                z,
                module.radius,
                float(clf.gamma),
                module.noise_std,
                0 if scheme == "projection" else args.n_steps,
                step,
                scheme != "each step",
            )
            with torch.no_grad():
                logits = heads(z_tilde)
            rows.setdefault((scheme, step), []).append(
                (100 * (logits > 0).float().mean().item(), logits.mean().item())
            )
    print(
        "| projection | step (x r) | in the positive region (%) | mean head logit |\n"
        "|---|---|---|---|"
    )
    for (scheme, step), values in rows.items():
        values = np.array(values)
        share, logit = values.mean(axis=0)
        share_sd, logit_sd = values.std(axis=0)
        label = "-" if scheme == "projection" else f"{step:g}"
        print(
            f"| {scheme} | {label} | {share:.1f} ± {share_sd:.1f} | "
            f"{logit:.2f} ± {logit_sd:.2f} |"
        )


if __name__ == "__main__":
    sys.exit(main())
