"""``jupyter mlops ...``: the command line (``main`` holds the command table)."""
