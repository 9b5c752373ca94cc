"""Command line: ``sklearn-openset evaluate`` (also ``python -m sklearn_openset``)."""

import argparse
import json
import platform
import sys
import time

from . import __version__
from .evaluation import DATASETS, ESTIMATORS, format_results, run_protocol


def _parser():
    parser = argparse.ArgumentParser(
        prog="sklearn-openset",
        description="Open-set recognition estimators for scikit-learn.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)
    evaluate = commands.add_parser(
        "evaluate",
        help="evaluate estimators under the papers' open-set protocol",
        description=(
            "Fit each estimator on the known classes of a dataset and report "
            "open-set accuracy, macro-F1 over the known classes + open, F1-known, "
            "F1-open, AUROC of the unknown score, closed-set accuracy and timings, "
            "as mean ± std over seeds."
        ),
    )
    evaluate.add_argument(
        "--dataset", default="digits", help="dataset name (default: digits)"
    )
    evaluate.add_argument(
        "--estimators",
        nargs="+",
        default=None,
        metavar="NAME",
        help="estimator names (default: all registered)",
    )
    evaluate.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        default=[0, 1, 2],
        metavar="SEED",
        help="one split per seed (default: 0 1 2)",
    )
    evaluate.add_argument(
        "--known-ratio",
        type=float,
        default=None,
        help="share of known classes (default: the dataset's protocol)",
    )
    evaluate.add_argument(
        "--data-home",
        default=None,
        help=(
            "folder of the benchmark data, downloaded there when missing "
            "(default: $SKLEARN_OPENSET_DATA, else ~/sklearn_openset_data)"
        ),
    )
    evaluate.add_argument(
        "--output", default=None, help="also write every run as JSON to this file"
    )
    evaluate.add_argument(
        "--quiet", action="store_true", help="no progress lines on standard error"
    )
    evaluate.add_argument(
        "--list", action="store_true", help="list estimators and datasets, then exit"
    )
    return parser


def _list():
    print("Estimators:")
    for name, entry in ESTIMATORS.items():
        print(f"  {name:12s} {entry.description}")
    print("Datasets:")
    for name, entry in DATASETS.items():
        print(f"  {name:12s} {entry.description}")


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.list:
        _list()
        return 0
    start = time.perf_counter()
    try:
        rows = run_protocol(
            args.estimators,
            args.dataset,
            args.seeds,
            known_ratio=args.known_ratio,
            data_home=args.data_home,
            progress=not args.quiet,
        )
    except (ValueError, OSError) as error:  # OSError: a missing or failed download
        print(f"sklearn-openset evaluate: error: {error}", file=sys.stderr)
        return 2
    wall = time.perf_counter() - start
    ratio = "protocol default" if args.known_ratio is None else args.known_ratio
    print(
        f"Open-set evaluation on {args.dataset} (known ratio: {ratio}), "
        f"seeds {args.seeds}; mean ± std over seeds"
    )
    print(format_results(rows))
    print(f"Total wall time: {wall:.1f} s")
    if args.output:
        with open(args.output, "w") as handle:
            json.dump(
                {
                    "command": "sklearn-openset " + " ".join(sys.argv[1:] or []),
                    "dataset": args.dataset,
                    "known_ratio": args.known_ratio,
                    "seeds": args.seeds,
                    "machine": platform.platform(),
                    "wall_time": wall,
                    "runs": rows,
                },
                handle,
                indent=2,
            )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
