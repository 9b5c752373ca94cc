"""Command line: ``sklearn-openset evaluate`` (also ``python -m sklearn_openset``)."""

import argparse
import json
import platform
import sys
import textwrap
import time

from . import __version__
from .evaluation import DATASETS, ESTIMATORS, format_results, run_protocol
from .evaluation._protocol import METRICS, STATISTICS, TIMES, _summarize_times
from .evaluation._protocol import summarize as _summarize


def _ratio(value):
    return "not fixed" if value is None else f"{value:g}"


def _entries(title, table, *, ratios=False):
    """Lines listing a table of the protocol: name, description (wrapped)."""
    lines = [f"{title}:"]
    for name, entry in table.items():
        text = entry.description or "(no description)"
        if ratios:
            text += f" (default known ratio: {_ratio(entry.known_ratio)})"
        lines += textwrap.wrap(
            text,
            width=79,
            break_on_hyphens=False,
            initial_indent=f"  {name:12s} ",
            subsequent_indent=" " * 15,
        )
    return lines


def _epilog():
    return "\n".join(
        [
            *_entries("datasets (--dataset)", DATASETS, ratios=True),
            "",
            *_entries("estimators (--estimators)", ESTIMATORS),
            "",
            textwrap.fill(
                f"Scores: {STATISTICS['scores']}. Times: {STATISTICS['times']}.",
                width=79,
            ),
        ]
    )


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
        description=textwrap.fill(
            "Fit each estimator on the known classes of a dataset and report "
            "open-set accuracy, macro-F1 over the known classes + open, F1-known, "
            "F1-open, AUROC of the unknown score and closed-set accuracy as the "
            "mean ± std over seeds, and the median fit and predict times.",
            width=79,
        ),
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument(
        "--dataset",
        default="digits",
        metavar="NAME",
        help="dataset name, listed below (default: digits)",
    )
    evaluate.add_argument(
        "--estimators",
        nargs="+",
        default=None,
        metavar="NAME",
        help="estimator names, listed below (default: all registered)",
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
        metavar="R",
        help="share of known classes (default: the dataset's protocol)",
    )
    evaluate.add_argument(
        "--data-home",
        default=None,
        metavar="DIR",
        help=(
            "folder of the benchmark data, downloaded there when missing "
            "(default: $SKLEARN_OPENSET_DATA, else ~/sklearn_openset_data)"
        ),
    )
    evaluate.add_argument(
        "--output",
        default=None,
        metavar="FILE",
        help="also write every run as JSON to this file",
    )
    evaluate.add_argument(
        "--quiet",
        action="store_true",
        help="no progress on standard error (lines per run, bars of long steps)",
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


def _summary(rows):
    """Per estimator: the scores' mean and std, the times' median and range."""
    scores = _summarize(rows, metrics=[m for m in METRICS if m not in TIMES])
    times = _summarize_times(rows)
    return {
        name: {
            **{
                m: {"mean": mean, "std": std} for m, (mean, std) in scores[name].items()
            },
            **{
                m: {"median": median, "min": low, "max": high}
                for m, (median, low, high) in times[name].items()
            },
        }
        for name in scores
    }


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
    # OSError: a missing or failed download; ImportError: a named estimator
    # whose extra is not installed.
    except (ValueError, OSError, ImportError) as error:
        print(f"sklearn-openset evaluate: error: {error}", file=sys.stderr)
        return 2
    wall = time.perf_counter() - start
    if args.known_ratio is None:
        known_ratio = DATASETS[args.dataset].known_ratio
        ratio = (
            "the dataset's default"
            if known_ratio is None
            else f"{known_ratio:g}, the dataset's default"
        )
    else:
        known_ratio = args.known_ratio
        ratio = f"{known_ratio:g}"
    n_known = sorted({row["n_known_classes"] for row in rows})
    print(
        f"Open-set evaluation on {args.dataset}: known ratio {ratio} "
        f"({'/'.join(map(str, n_known))} known classes), seeds {args.seeds}"
    )
    print(format_results(rows))
    print(f"Total wall time: {wall:.1f} s")
    if args.output:
        with open(args.output, "w") as handle:
            json.dump(
                {
                    "command": "sklearn-openset " + " ".join(sys.argv[1:] or []),
                    "dataset": args.dataset,
                    "known_ratio": known_ratio,
                    "known_ratio_is_default": args.known_ratio is None,
                    "seeds": args.seeds,
                    "machine": platform.platform(),
                    "wall_time": wall,
                    "statistics": STATISTICS,
                    "summary": _summary(rows),
                    "runs": rows,
                },
                handle,
                indent=2,
            )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
