"""Where ``%mlops start`` / ``%mlops open`` point: text and HTML, escaped, no credentials."""

from __future__ import annotations

from jupyter_mlops.core.tracking.tracker import RunInfo
from jupyter_mlops.kernel.tracking_magics import run_links_bundle, where_to_see

EVIL = "<img src=x onerror=alert(1)>"


def _info(uri: str, name: str = "baseline") -> RunInfo:
    return RunInfo(
        run_id="0123abcd",
        experiment_id="7",
        experiment_name=EVIL,
        run_name=name,
        tracking_uri=uri,
        start_time=0,
    )


def test_http_store_links_the_run_page_without_credentials() -> None:
    info = _info("https://alice:s3cret@mlflow.example.com:8443/")
    bundle = run_links_bundle(info)
    url = "https://mlflow.example.com:8443/#/experiments/7/runs/0123abcd"
    assert url in where_to_see(info)
    assert f'href="{url}"' in bundle["text/html"]
    assert "mlflow ui" not in bundle["text/plain"]
    for text in (*bundle.values(), where_to_see(info)):
        assert "s3cret" not in text
        assert "alice" not in text


def test_local_store_gets_a_quoted_mlflow_ui_command() -> None:
    info = _info("sqlite:////data/my runs/mlflow.db")
    text = where_to_see(info)
    assert "mlflow ui --backend-store-uri 'sqlite:////data/my runs/mlflow.db'" in text
    assert "http://127.0.0.1:5000/#/experiments/7/runs/0123abcd" in text


def test_run_text_is_escaped_in_html() -> None:
    markup = run_links_bundle(_info("sqlite:///x.db", name=EVIL))["text/html"]
    assert EVIL not in markup
    assert markup.count("&lt;img src=x onerror=alert(1)&gt;") == 2
    assert "MLOps panel" in markup


def test_odd_ids_cannot_break_out_of_the_url() -> None:
    info = RunInfo("r/../x", 'e"1', "exp", "", "http://mlflow:5000", 0)
    markup = run_links_bundle(info)["text/html"]
    assert 'href="http://mlflow:5000/#/experiments/e%221/runs/r%2F..%2Fx"' in markup
