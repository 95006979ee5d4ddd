"""Entry points that are not parts: the benchmark, the report index, and `make all`."""
