"""Pictures and tables from numbers: the figures (figures.py) and markdown/CSV tables (tables.py)."""
