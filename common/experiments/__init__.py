"""From a config to a report folder: the MLP pipeline of Parts 1-3 (mlp.py), Part 4's comparison
(grid.py), Part 5's CNN pipeline (cnn.py), the toy networks (toy.py), and what every run records
(record.py)."""
