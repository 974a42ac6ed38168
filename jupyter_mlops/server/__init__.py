"""The jupyter-mlops Jupyter server extension: a thin REST adapter over ``jupyter_mlops.core``.

* :mod:`jupyter_mlops.server.app` - ``MlopsExtensionApp``: config, core objects, timers.
* :mod:`jupyter_mlops.server.service` - ``MlopsService``: what handlers use (store, thread pool).
* :mod:`jupyter_mlops.server.routes` - THE table of routes under ``/jupyter-mlops/api/``.
* :mod:`jupyter_mlops.server.base` - ``MlopsHandler``, the base of every handler.
* :mod:`jupyter_mlops.server.errors` - exceptions to HTTP status and JSON, in one place.
* ``*_handlers`` - one module of handlers per subject (runs, env, cost, pipeline, artifact).
"""
