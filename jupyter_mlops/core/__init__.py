"""The pure library under every adapter: tracking, cost, environment, pipelines.

Nothing in ``jupyter_mlops.core`` imports tornado, jupyter_server, IPython or
ipywidgets (``tests/python/test_layering.py`` proves it). MLflow is imported
lazily, on first use.
"""
