"""Utilities shared by the estimators, metrics and scorers."""

from ._validation import (
    check_open_label,
    encode_known_labels,
    encode_open_set,
    labels_with_open,
    open_set_label_dtype,
)

__all__ = [
    "check_open_label",
    "encode_known_labels",
    "encode_open_set",
    "labels_with_open",
    "open_set_label_dtype",
]
