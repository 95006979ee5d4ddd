"""The five parts of the assignment; each runs as ``python -m parts.partN --help``."""
