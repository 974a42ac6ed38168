"""Start-up file of a pipeline execution's kernel (``$PYTHONSTARTUP``, run by IPython).

Under ``jupyter mlops run`` the execution's run is MLflow's run in the kernel:
``$MLFLOW_RUN_ID`` makes MLflow's next fluent call resume it. MLflow forgets
that variable when a run ends (the end of a ``with mlflow.start_run():``
block), so a later ``mlflow.log_metric`` would start another run. Before
every cell, while no MLflow run is active, this puts the variable back: every
MLflow call of the notebook lands in the execution's run.

A ``$PYTHONSTARTUP`` the user had is run afterwards (the executor passes it
as ``$JUPYTER_MLOPS_USER_STARTUP``). Only IPython's public events are used;
the file leaves no names in the notebook's namespace.
"""


def _mlops_install_resume() -> None:
    import os

    from IPython import get_ipython

    shell = get_ipython()
    run_id = os.environ.get("JUPYTER_MLOPS_RUN_ID", "").strip()
    if shell is None or not run_id:
        return

    def resume(*_: object) -> None:
        from jupyter_mlops.core.tracking import fluent

        if not os.environ.get("MLFLOW_RUN_ID") and fluent.active_run_id() is None:
            os.environ["MLFLOW_RUN_ID"] = run_id

    shell.events.register("pre_run_cell", resume)


def _mlops_user_startup() -> str | None:
    import os

    return os.environ.get("JUPYTER_MLOPS_USER_STARTUP") or None


_mlops_install_resume()
if _mlops_user_startup():
    with open(str(_mlops_user_startup()), encoding="utf-8") as _mlops_file:
        exec(compile(_mlops_file.read(), _mlops_file.name, "exec"))  # noqa: S102 - the user's file
    del _mlops_file
del _mlops_install_resume, _mlops_user_startup
