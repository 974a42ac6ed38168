"""Experiment tracking on MLflow: the tracker, its durable spool and delivery, recovery, the read side.

Module map (each module's docstring says more):

* ``tracker``: ``Tracker`` (start/log/end on top of the spool)
* ``fluent``, ``adopt``, ``mlflow_context``, ``attach``: our run is MLflow's active run
* ``spool``, ``spool_format``, ``delivery``, ``recovery``: metrics are durable before they are acknowledged
* ``store``, ``store_lock``: tracking URI, one cached client per URI, first open under a lock
* ``query``, ``readcache``: the read side (experiments, runs, metric history)
* ``context``, ``validation``, ``report``: run context, MLflow's key/value rules, notebook reports
"""
