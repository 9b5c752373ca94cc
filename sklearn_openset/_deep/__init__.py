"""The torch and skorch code of the deep estimators, imported only when needed.

``import sklearn_openset`` never imports this package: the estimators import
its modules inside the methods that build, train or run a network, so that the
core install (numpy, scipy, scikit-learn) serves everything else. Here lives
what has to subclass or call torch and skorch at import time: the fast array
batches, the inference wrapper, the optimizer table, the skorch nets of the
methods (their ``get_loss``) and the text encoder's fine-tuning module.
"""
