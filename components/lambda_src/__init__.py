"""Code that runs inside AWS Lambda, packaged from these files (never imported by the program)."""
