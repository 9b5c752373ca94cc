"""What CROSR's reconstruction path costs at inference, as a ratio.

The same network with and without its reconstruction parts, in eval mode
without gradients, one after the other and repeated (best of ``--repeats``),
on one CPU thread:

- ``plain``: the DHRNet's encoder stages and classifier alone (the network a
  cross-entropy baseline would train);
- ``classify``: ``DHRNet.classify``, what ``CROSRClassifier`` runs at
  prediction (encoder, classifier and the lateral bottlenecks, pooled);
- ``forward``: ``DHRNet.forward``, the training pass (also the decoder).

For the paper's MNIST DHRNet on 28x28 images and for the vector DHRNet on
384-d sentence embeddings (the text pipeline). The paper reports +3-5 ms per
image on a GPU for the reconstruction-aware detector. Run from the repository
root::

    python benchmarks/crosr/bench_inference.py --threads 1
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/

from _common import add_output_arguments, render_only, results_header, run_record

from sklearn_openset.nn import DHRNet, VectorDHRNet

NETWORKS = {
    "DHRNet, 1x28x28 images": (lambda: DHRNet(10), (1, 28, 28), 2000),
    "VectorDHRNet, 384-d embeddings": (
        lambda: VectorDHRNet(384, 75),
        (384,),
        20000,
    ),
}
PASSES = ("plain", "classify", "forward")


def best_seconds(call, x, batch_size, repeats):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        with torch.no_grad():
            for batch in x.split(batch_size):
                call(batch)
        best = min(best, time.perf_counter() - start)
    return best


def measure(repeats, batch_size):
    torch.manual_seed(0)
    rows = []
    for name, (build, shape, n_samples) in NETWORKS.items():
        net = build().eval()
        plain = nn.Sequential(*net.stages, net.head).eval()
        x = torch.rand(n_samples, *shape)
        calls = {"plain": plain, "classify": net.classify, "forward": net}
        seconds = dict.fromkeys(PASSES, float("inf"))
        with torch.no_grad():  # warm-up: first calls pay one-time costs
            for call in calls.values():
                call(x[:batch_size])
        # Alternate the passes, so that a change of load hits all of them.
        for _ in range(repeats):
            for key, call in calls.items():
                seconds[key] = min(seconds[key], best_seconds(call, x, batch_size, 1))
        rows.append({"network": name, "n_samples": n_samples, "seconds": seconds})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def render(results):
    lines = results_header(
        "CROSR: inference cost of the reconstruction path",
        "benchmarks/crosr/bench_inference.py",
        results["runs"],
        raw=results["output"] + ".json",
    )
    lines += [
        (
            "| network | samples | plain (ms / sample) | classify (ms / sample) | "
            "forward (ms / sample) | classify / plain | forward / plain |"
        ),
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        s, n = row["seconds"], row["n_samples"]
        per = {k: 1000 * v / n for k, v in s.items()}
        lines.append(
            f"| {row['network']} | {n} | {per['plain']:.3f} | {per['classify']:.3f} | "
            f"{per['forward']:.3f} | {s['classify'] / s['plain']:.2f} | "
            f"{s['forward'] / s['plain']:.2f} |"
        )
    lines += [
        "",
        (
            f"Best of {results['repeats']} alternated passes, batches of "
            f"{results['batch_size']}, eval mode, no gradients, "
            f"{results['threads']} torch thread(s)."
        ),
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    add_output_arguments(parser, Path(__file__).with_name("results_inference"))
    args = parser.parse_args(argv)
    if render_only(args, render):
        return
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    rows = measure(args.repeats, args.batch_size)
    output = Path(args.output)
    results = {
        "output": output.name,
        "threads": args.threads,
        "repeats": args.repeats,
        "batch_size": args.batch_size,
        "rows": rows,
        "runs": [run_record(start)],
    }
    output.with_suffix(".json").write_text(json.dumps(results, indent=1))
    output.with_suffix(".md").write_text(render(results))


if __name__ == "__main__":
    main()
