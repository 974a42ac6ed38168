"""REST handlers of environment snapshots (contract: ``api/openapi.yaml``).

* ``GET /runs/{run_id}/environment``: the environment recorded with a run.
* ``GET /environment/current?kernel_id=``: the environment of a kernel's
  interpreter, found from its kernelspec (``argv[0]``), read from disk: no code
  runs in the kernel and no shell is started. Without ``kernel_id``: the
  server's own interpreter.
* ``GET /environment/diff?a=&b=``: what changed from run ``a``'s environment to run ``b``'s.

Resource ``mlops:environment``; the work (:mod:`jupyter_mlops.core.environment.run_record`)
runs in the extension's thread pool.
"""

from __future__ import annotations

from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized

from jupyter_mlops.core.environment import run_record as env_runs
from jupyter_mlops.core.tracking.query import validate_run_id
from jupyter_mlops.exceptions import NotFoundError, UsageError
from jupyter_mlops.server.base import MlopsHandler

__all__ = [
    "CurrentEnvironmentHandler",
    "EnvironmentDiffHandler",
    "RunEnvironmentHandler",
    "kernel_environment",
]


def kernel_environment(kernel: Any, kernel_id: str) -> dict[str, Any]:
    """The ``CurrentEnvironment`` of a kernel (a jupyter_client ``KernelManager``), blocking."""
    spec = kernel.kernel_spec
    argv = list(getattr(spec, "argv", None) or [])
    if not argv:
        raise NotFoundError(f"Kernel {kernel_id} has no command line in its kernelspec.")
    prefix = env_runs.interpreter_prefix(str(argv[0]))
    return env_runs.current_environment(prefix, kernel_id=kernel_id)


class RunEnvironmentHandler(MlopsHandler):
    """``GET /runs/{run_id}/environment``: ``environment.yml``, hash and parsed snapshot of a run."""

    auth_resource = "mlops:environment"

    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        validate_run_id(run_id)
        self.reply(await self.service.call(env_runs.run_environment, run_id))


class CurrentEnvironmentHandler(MlopsHandler):
    """``GET /environment/current?kernel_id=``: a kernel's environment, else the server's."""

    auth_resource = "mlops:environment"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        kernel_id = self.optional_arg("kernel_id")
        if kernel_id is None:
            self.reply(await self.service.run(env_runs.current_environment))
            return
        try:
            validate_run_id(kernel_id)  # same alphabet as kernel ids (uuid)
        except UsageError:
            raise UsageError(f"Invalid kernel id {kernel_id[:80]!r}.") from None
        if kernel_id not in self.kernel_manager:
            raise NotFoundError(
                f"No running kernel {kernel_id}.",
                hint="the kernel may have been shut down; pick a running one",
            )
        kernel = self.kernel_manager.get_kernel(kernel_id)
        self.reply(await self.service.run(kernel_environment, kernel, kernel_id))


class EnvironmentDiffHandler(MlopsHandler):
    """``GET /environment/diff?a=&b=``: added, removed and changed packages from run a to run b."""

    auth_resource = "mlops:environment"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        a, b = self.optional_arg("a"), self.optional_arg("b")
        if a is None or b is None:
            raise UsageError(
                "Both a and b are required.", hint="?a=<run id>&b=<run id> (old, then new)"
            )
        validate_run_id(a)
        validate_run_id(b)
        self.reply(await self.service.call(env_runs.environment_diff, a, b))
