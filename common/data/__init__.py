"""CIFAR-10 from any source (cifar10.py) and the arrays each model trains on (preprocess.py)."""
