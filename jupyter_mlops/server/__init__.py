"""The jupyter-mlops Jupyter server extension: a thin REST adapter over ``jupyter_mlops.core``.

* :mod:`jupyter_mlops.server.app` - ``MlopsExtensionApp``: config, core objects, thread pool.
* :mod:`jupyter_mlops.server.handlers` - the routes under ``/jupyter-mlops/api/``.
* :mod:`jupyter_mlops.server.errors` - exceptions to HTTP status and JSON, in one place.
"""
