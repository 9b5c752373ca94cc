"""The CAC reference code's trained MNIST networks, as the library's modules.

``shared/reference/cac-openset-mnist`` (beside the checkout) holds the
classifier32 networks that ``dimitymiller/cac-openset`` trained for its five
MNIST trials, their class splits and input normalisation. The test and the
benchmark that score them through the library load them here.
"""

import json
from pathlib import Path

import numpy as np

__all__ = ["cac_reference_network", "cac_reference_split"]


def cac_reference_network(folder, trial, kind):
    """The trained network ``kind`` of ``trial`` as a ``Classifier32``.

    ``kind``: ``"CACclassifierAnchorLoss"`` or ``"closedSetClassifier"``.
    The reference's ``encoder.encoder{1,2,3}`` and ``classify`` are the
    library's ``group{1,2,3}`` and ``head`` of ``Classifier32(pooling="flatten")``.
    """
    import torch

    from ..nn import Classifier32

    state = torch.load(
        Path(folder) / f"MNIST_{trial}_{kind}.pth",
        map_location="cpu",
        weights_only=False,
    )["net"]
    renamed = {}
    for key, value in state.items():
        if key.startswith("encoder.encoder"):
            renamed["group" + key.removeprefix("encoder.encoder")] = value
        elif key.startswith("classify."):
            renamed["head." + key.removeprefix("classify.")] = value
    network = Classifier32(6, in_channels=1, pooling="flatten")
    network.load_state_dict(renamed)
    return network


def cac_reference_split(folder, trial):
    """``(known_digits, prepare)`` of ``trial``.

    ``known_digits``: the sorted known digits the networks were trained on;
    ``prepare(images)``: uint8 images ``(n, 28, 28)`` as the reference feeds
    them, ``(n, 1, 28, 28)`` float32 of pixels / 255 normalised with the
    trial's mean and standard deviation (the network resizes to 32x32).
    """
    folder = Path(folder)
    config = json.loads((folder / "config_mnist.json").read_text())
    split = json.loads((folder / f"class_split_{trial}.json").read_text())
    mean, std = config["data_mean"][trial][0], config["data_std"][trial][0]

    def prepare(images):
        return (((images / 255.0) - mean) / std)[:, None].astype(np.float32)

    return sorted(split["Known"]), prepare
