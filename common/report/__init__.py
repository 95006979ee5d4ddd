"""What the saved runs say: the statements and verdicts (analysis.py) against the report's figures
(assignment.py)."""
