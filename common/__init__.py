"""Shared layer of the CIFAR-10 course suite: data, task views, metrics, reports, numpy networks."""
