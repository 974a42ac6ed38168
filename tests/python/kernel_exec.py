"""Run one cell in a real kernel through jupyter_client: its reply status and IOPub outputs."""

from __future__ import annotations

from typing import Any


def execute(client: Any, code: str) -> tuple[str, list[dict[str, Any]]]:
    """Run ``code``; return the reply status and the outputs (stream, error, display, result)."""
    msg_id = client.execute(code)
    outputs: list[dict[str, Any]] = []
    while True:
        msg = client.get_iopub_msg(timeout=60)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind == "status" and msg["content"]["execution_state"] == "idle":
            break
        if kind in ("stream", "error", "display_data", "execute_result"):
            outputs.append({"type": kind, **msg["content"]})
    # the reply to this request: under load, start_new_kernel's readiness loop may have
    # sent kernel_info more than once, leaving extra replies on the shell channel
    while True:
        reply = client.get_shell_msg(timeout=60)
        if reply["parent_header"].get("msg_id") == msg_id:
            return str(reply["content"]["status"]), outputs
