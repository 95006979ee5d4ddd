"""Part 5's engine in PyTorch: the two CNNs (models.py), their training loop (training.py) and what a
trained one looks at (insight.py)."""
