"""MLflow models among a run's artifacts: what an ``MLmodel`` file says, and the run's logged models.

* :func:`parse_mlmodel`: flavours (with their scalar details, such as
  ``sklearn_version``) and the signature's inputs, outputs and params, from the
  YAML text of an ``MLmodel`` file. Column specs become ``{"name", "type"}``;
  tensor specs become ``{"name", "type": "tensor(float64, [-1, 4])"}``.
* :func:`run_logged_models`: the models a run logged with MLflow 3's
  ``log_model`` (kept beside the run's artifacts, under the experiment's
  ``models/`` folder, not in the run's artifact tree), each with its ``MLmodel``
  summary when it can be read.

Pure library: no server, kernel or widget imports; MLflow is used through the
client that the caller passes.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from jupyter_mlops.core.artifacts.paths import MLMODEL_FILE, local_root
from jupyter_mlops.exceptions import UsageError

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["MLMODEL_FILE", "MLMODEL_MAX_BYTES", "parse_mlmodel", "run_logged_models"]

MLMODEL_MAX_BYTES = 1024 * 1024
"""An ``MLmodel`` larger than this is not parsed (real ones are a few kilobytes)."""

MAX_LOGGED_MODELS = 100
_SCALARS = (str, int, float, bool)


def _column(spec: Any) -> dict[str, Any]:
    """One signature entry as ``{"name", "type"}`` (``name`` ``None`` when the spec has none)."""
    if not isinstance(spec, dict):
        return {"name": None, "type": str(spec)[:200]}
    name = spec.get("name")
    kind = str(spec.get("type", "unknown"))
    tensor = spec.get("tensor-spec")
    if kind == "tensor" and isinstance(tensor, dict):
        kind = f"tensor({tensor.get('dtype', '?')}, {list(tensor.get('shape') or [])})"
    elif kind == "array" and isinstance(spec.get("items"), dict):
        kind = f"array<{spec['items'].get('type', '?')}>"
    if spec.get("required") is False:
        kind += " (optional)"
    return {"name": None if name is None else str(name), "type": kind}


def _columns(raw: Any) -> list[dict[str, Any]]:
    """A signature part (a JSON string in ``MLmodel``, or already a list) as columns."""
    if raw is None:
        return []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return [{"name": None, "type": raw[:200]}]
    if isinstance(raw, dict):  # a single spec
        raw = [raw]
    if not isinstance(raw, list):
        return []
    return [_column(spec) for spec in raw]


def parse_mlmodel(text: str) -> dict[str, Any]:
    """``{"flavors", "signature", "model_id", "run_id", "created", "mlflow_version"}`` of an MLmodel.

    ``flavors`` is ``[{"name", "details": {key: scalar as text}}]`` in file order;
    ``signature`` is ``{"inputs", "outputs", "params"}`` or ``None`` when the model
    has none. Raises :class:`~jupyter_mlops.exceptions.UsageError` when the text
    is not an ``MLmodel`` (not YAML, or not a mapping).
    """
    if len(text) > MLMODEL_MAX_BYTES:
        raise UsageError(
            f"This MLmodel file is larger than {MLMODEL_MAX_BYTES} bytes and is not parsed.",
            hint="download it to read it",
        )
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(
            f"This MLmodel file is not valid YAML: {str(exc)[:200]}",
            hint="it may have been edited by hand; download it to read it",
        ) from exc
    if not isinstance(data, dict):
        raise UsageError("This MLmodel file does not describe a model (not a YAML mapping).")
    flavors = []
    for name, details in (data.get("flavors") or {}).items():
        scalars = {
            str(key): str(value)
            for key, value in (details or {}).items()
            if isinstance(value, _SCALARS) and key != "code"
        }
        flavors.append({"name": str(name), "details": scalars})
    raw_signature = data.get("signature")
    signature = None
    if isinstance(raw_signature, dict):
        signature = {
            "inputs": _columns(raw_signature.get("inputs")),
            "outputs": _columns(raw_signature.get("outputs")),
            "params": _columns(raw_signature.get("params")),
        }

    def text_of(key: str) -> str | None:
        value = data.get(key)
        return None if value is None else str(value)

    return {
        "flavors": flavors,
        "signature": signature,
        "model_id": text_of("model_id"),
        "run_id": text_of("run_id"),
        "created": text_of("utc_time_created"),
        "mlflow_version": text_of("mlflow_version"),
    }


def _read_mlmodel(location: str) -> str:
    """The text of ``<location>/MLmodel``: read in place when local, else downloaded."""
    root = local_root(location)
    if root is not None:
        path = root / MLMODEL_FILE
        if path.stat().st_size > MLMODEL_MAX_BYTES:
            raise UsageError(f"{MLMODEL_FILE} is larger than {MLMODEL_MAX_BYTES} bytes.")
        return path.read_text(encoding="utf-8", errors="replace")
    from mlflow.artifacts import download_artifacts

    with tempfile.TemporaryDirectory(prefix="jupyter-mlops-mlmodel-") as tmp:
        local = download_artifacts(
            artifact_uri=f"{location.rstrip('/')}/{MLMODEL_FILE}", dst_path=tmp
        )
        return Path(local).read_text(encoding="utf-8", errors="replace")[: MLMODEL_MAX_BYTES + 1]


def run_logged_models(
    client: MlflowClient, experiment_id: str, run_id: str
) -> list[dict[str, Any]]:
    """The models run ``run_id`` logged (MLflow 3 ``LoggedModel``), oldest first.

    Each is ``{"model_id", "name", "uri", "model": <parse_mlmodel()> | None, "error"}``;
    a model whose ``MLmodel`` cannot be read keeps ``model`` ``None`` and says why in
    ``error``. A store without logged models (MLflow before 3) gives ``[]``.
    """
    search = getattr(client, "search_logged_models", None)
    if search is None:
        return []
    found = search(
        experiment_ids=[experiment_id],
        filter_string=f"source_run_id = '{run_id}'",
        max_results=MAX_LOGGED_MODELS,
    )
    out = []
    for logged in sorted(found, key=lambda m: (m.creation_timestamp or 0, m.model_id)):
        entry: dict[str, Any] = {
            "model_id": str(logged.model_id),
            "name": str(logged.name),
            "uri": f"models:/{logged.model_id}",
            "model": None,
            "error": None,
        }
        try:
            entry["model"] = parse_mlmodel(_read_mlmodel(str(logged.artifact_location)))
        except Exception as exc:  # missing, too large, a remote download error: say so, go on
            entry["error"] = f"MLmodel not readable: {type(exc).__name__}"
        out.append(entry)
    return out
