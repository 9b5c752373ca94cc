"""The weight of the core install and the time of ``import sklearn_openset``.

Issue 20's targets: the core install (``pip install .``: numpy, scipy,
scikit-learn) in a virtual environment under 300 MB, and ``import
sklearn_openset`` importing neither torch nor transformers and taking at most
1.2 times as long as ``import sklearn``.

1. Import times, measured by ``python -X importtime`` in fresh interpreters
   (the sum of the top-level imports' cumulative times), the statements run
   in turn ``--repeats`` times and summarized by their median: ``import
   sklearn``, ``import sklearn_openset``, the core subpackages too (metrics,
   model_selection, datasets, evt), and ``import torch`` for scale (what
   every ``import sklearn_openset`` paid before). Each run also lists which
   of torch, skorch, torchvision and transformers it imported. They run in
   this environment (the extras installed, the package from the checkout)
   and, unless ``--skip-venv``, in the core venv of step 2.
2. A fresh virtual environment under the temporary folder with the core
   install only, ``pip install <repository>`` (no extra; pip downloads what
   its index holds, a few minutes): its size on disk (``du``), its packages,
   and a check that the core path runs there (MSP and OpenMax over
   LogisticRegression fitted, a metric computed).

Run from the repository root::

    python benchmarks/install/bench_install.py
"""

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/

from _common import ROOT, add_output_arguments, render_only, results_header, run_record

HEAVY = ("torch", "skorch", "torchvision", "transformers")
CORE = "sklearn_openset.metrics, sklearn_openset.model_selection, "
CORE += "sklearn_openset.datasets, sklearn_openset.evt"

#: label -> the import statement measured.
STATEMENTS = {
    "sklearn": "import sklearn",
    "sklearn_openset": "import sklearn_openset",
    "sklearn_openset + core subpackages": f"import sklearn_openset, {CORE}",
    "torch (for scale)": "import torch",
}

TARGET_RATIO = 1.2
TARGET_MB = 300

CORE_PATH = """
from sklearn.linear_model import LogisticRegression
from sklearn_openset import MSPClassifier, OpenMaxClassifier
from sklearn_openset.datasets import load_digits_open_set
from sklearn_openset.metrics import open_set_f1_score
X_train, X_test, y_train, y_test = load_digits_open_set(random_state=0)
for clf in (MSPClassifier(), OpenMaxClassifier(LogisticRegression(max_iter=1000))):
    clf.fit(X_train, y_train)
    print(type(clf).__name__, round(open_set_f1_score(
        y_test, clf.predict(X_test), labels=clf.classes_), 4))
try:
    from sklearn_openset import CACClassifier
    CACClassifier()
except ImportError as error:
    print("CACClassifier():", error)
"""


def _import_time(python, statement, env):
    """Seconds of the top-level imports of ``statement``, and the heavy modules."""
    result = subprocess.run(
        [python, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
        check=False,
    )
    if result.returncode != 0:
        return None, result.stderr.strip().splitlines()[-1]
    total, heavy = 0, set()
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        if cumulative.strip() == "cumulative":
            continue
        if not name.startswith("  "):  # a top-level import (one space of margin)
            total += int(cumulative)
        if name.strip().split(".")[0] in HEAVY:
            heavy.add(name.strip().split(".")[0])
    return total / 1e6, sorted(heavy)


def import_times(python, repeats, env, statements=STATEMENTS):
    """``{label: {"times": [...], "median": s, "heavy": [...]}}``, runs interleaved."""
    out = {label: {"times": [], "heavy": set()} for label in statements}
    for _ in range(repeats):
        for label, statement in statements.items():
            seconds, heavy = _import_time(python, statement, env)
            if seconds is None:
                out[label]["error"] = heavy
                continue
            out[label]["times"].append(seconds)
            out[label]["heavy"].update(heavy)
    for entry in out.values():
        entry["heavy"] = sorted(entry["heavy"])
        entry["median"] = statistics.median(entry["times"]) if entry["times"] else None
    base = out["sklearn"]["median"]
    for entry in out.values():
        entry["ratio_to_sklearn"] = (
            entry["median"] / base if entry["median"] is not None else None
        )
    return out


def _du_mb(path):
    """Disk usage of ``path`` (``du -s``), in MB (10**6 bytes)."""
    du = subprocess.run(
        ["du", "-s", "--block-size=1", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(du.stdout.split()[0]) / 1e6


def core_venv(path):
    """Make the core venv at ``path``; its size, packages and the core path's output."""
    if path.exists():
        shutil.rmtree(path)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    empty_mb = _du_mb(path)
    python = str(path / "bin" / "python")
    # From a copy of the checkout: pip builds in the source folder, and its
    # build/ and egg-info would shadow the package for later installs.
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "source"
        shutil.copytree(
            ROOT,
            source,
            ignore=shutil.ignore_patterns(
                ".git", ".venv", "build", "*.egg-info", "__pycache__", "_build"
            ),
        )
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", str(source)],
            check=True,
            cwd="/",
        )
    install_s = time.perf_counter() - start
    size_mb = _du_mb(path)
    (site,) = path.glob("lib/python*/site-packages")
    entries = {entry.name: _du_mb(entry) for entry in site.iterdir()}
    listed = subprocess.run(
        [python, "-m", "pip", "list", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    )
    packages = {p["name"]: p["version"] for p in json.loads(listed.stdout)}
    check = subprocess.run(
        [python, "-c", CORE_PATH], capture_output=True, text=True, cwd="/", check=False
    )
    return {
        "size_mb": size_mb,
        "empty_venv_mb": empty_mb,
        "site_packages_mb": {k: v for k, v in entries.items() if v >= 1},
        "install_s": install_s,
        "packages": packages,
        "core_path_rc": check.returncode,
        "core_path_output": (check.stdout + check.stderr).strip().splitlines()[-4:],
        "python": python,
    }


def _times_table(times):
    lines = [
        "| import | median s | min-max s | x `import sklearn` | torch etc. imported |",
        "|---|---:|---:|---:|---|",
    ]
    for label, entry in times.items():
        if entry["median"] is None:
            lines.append(f"| `{label}` | - | - | - | not installed |")
            continue
        lines.append(
            f"| `{label}` | {entry['median']:.3f} | {min(entry['times']):.3f}-"
            f"{max(entry['times']):.3f} | {entry['ratio_to_sklearn']:.2f} | "
            f"{', '.join(entry['heavy']) or 'none'} |"
        )
    return lines


def render(results):
    here = results["here"]
    venv = results.get("venv")
    ratio = here["sklearn_openset"]["ratio_to_sklearn"]
    lines = results_header(
        "Core install: venv size and import time (issue 20)",
        "benchmarks/install/bench_install.py",
        [results["run"]],
        raw="results_install.json",
    )
    lines += ["| target | measured | goal | met |", "|---|---:|---:|---|"]
    heavy = here["sklearn_openset"]["heavy"]
    lines.append(
        f"| `import sklearn_openset` / `import sklearn` (this env.) | {ratio:.2f} | "
        f"<= {TARGET_RATIO} | {'yes' if ratio <= TARGET_RATIO else 'no'} |"
    )
    lines.append(
        f"| torch, skorch, torchvision, transformers imported | "
        f"{', '.join(heavy) or 'none'} | none | {'no' if heavy else 'yes'} |"
    )
    if venv:
        size = venv["size_mb"]
        lines.append(
            f"| core venv size (`du`) | {size:.0f} MB | < {TARGET_MB} MB | "
            f"{'yes' if size < TARGET_MB else 'no'} |"
        )
        added = size - venv["empty_venv_mb"]
        lines.append(
            f"| what the core install adds to an empty venv | {added:.0f} MB | "
            f"< {TARGET_MB} MB | {'yes' if added < TARGET_MB else 'no'} |"
        )
        in_venv = venv["times"]["sklearn_openset"]["ratio_to_sklearn"]
        lines.append(
            f"| `import sklearn_openset` / `import sklearn` (core venv) | "
            f"{in_venv:.2f} | <= {TARGET_RATIO} | "
            f"{'yes' if in_venv <= TARGET_RATIO else 'no'} |"
        )
    if results.get("notes"):
        lines += ["", results["notes"]]
    lines += [
        "",
        (
            f"## Import times, this environment (extras installed), "
            f"{results['repeats']} runs each"
        ),
        "",
        (
            "`python -X importtime -c '<import>'` in a fresh interpreter, the package "
            "from the checkout; the sum of the top-level imports' cumulative times. The "
            "statements run in turn, so that the machine's load falls on all alike."
        ),
        "",
        *_times_table(here),
    ]
    if venv:
        packages = ", ".join(f"{k} {v}" for k, v in sorted(venv["packages"].items()))
        lines += [
            "",
            "## The core venv",
            "",
            (
                f"`python -m venv` then `pip install <repository>` (no extra): "
                f"{venv['size_mb']:.0f} MB on disk (`du -s`, pip itself included), "
                f"made in {venv['install_s']:.0f} s. Packages: {packages}."
            ),
            "",
            (
                f"Of which the empty venv (`python -m venv`: pip and setuptools) "
                f"{venv['empty_venv_mb']:.0f} MB, and what `pip install .` adds "
                f"{venv['size_mb'] - venv['empty_venv_mb']:.0f} MB. The largest "
                "entries of site-packages, MB (with their compiled `.pyc`):"
            ),
            "",
            "| entry | MB |",
            "|---|---:|",
            *(
                f"| `{name}` | {mb:.1f} |"
                for name, mb in sorted(
                    venv["site_packages_mb"].items(), key=lambda item: -item[1]
                )
            ),
            "",
            f"The core path there (exit status {venv['core_path_rc']}):",
            "",
            "```",
            *venv["core_path_output"],
            "```",
            "",
            f"Import times in the core venv, {results['repeats']} runs each:",
            "",
            *_times_table(venv["times"]),
        ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_output_arguments(parser, Path(__file__).with_name("results_install"))
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--skip-venv", action="store_true", help="only the import times here"
    )
    parser.add_argument(
        "--venv-dir",
        default=str(Path(tempfile.gettempdir()) / "sklearn_openset_core_venv"),
    )
    args = parser.parse_args(argv)
    if render_only(args, render):
        return
    start = time.perf_counter()
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    results = {"repeats": args.repeats}
    results["here"] = import_times(sys.executable, args.repeats, env)
    if not args.skip_venv:
        venv = core_venv(Path(args.venv_dir))
        venv["times"] = import_times(
            venv.pop("python"), args.repeats, {"PATH": "/usr/bin:/bin"}
        )
        results["venv"] = venv
    results["run"] = run_record(start)
    output = Path(args.output)
    output.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    output.with_suffix(".md").write_text(render(results))
    print(render(results))


if __name__ == "__main__":
    main()
