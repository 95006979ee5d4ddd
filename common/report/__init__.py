"""What the saved runs say: statements (analysis.py), and verdicts on the reports' figures and claims:
the report files (report_file.py, student_reports/) and the claim vocabulary (claims.py)."""
