"""deploy/nginx/hcp.conf, run by the real nginx (Debian's nginx-light) in front of a real
``hcp serve``: the client address the app sees, the redirect to HTTPS and the body limits."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import upgrade_once

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
pytestmark = pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx not installed (scripts/system-deps.sh)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait(port: int, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited early: {process.stderr.read() if process.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port}")


def _as_nobody(args: list[str]) -> list[str]:
    """nginx, like a service, runs unprivileged; as root in CI, drop to nobody."""
    if os.geteuid() == 0:
        return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--init-groups", *args]
    return args


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    # Not under pytest's 0700 directory: nginx, as nobody, must reach its own files.
    base = Path(tempfile.mkdtemp(prefix="hcp-nginx-"))
    base.chmod(0o755)
    app_port, http_port, https_port = _free_port(), _free_port(), _free_port()
    app_log = (base / "app.log").open("w+")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HCP_DATA_DIR": str(base / "var"), "HCP_TRIAGE_PROCESSES": "0",
           "HCP_TRUSTED_PROXIES": '["127.0.0.1"]', "HCP_PUBLIC_URL": "https://hcp.test", "HCP_LOG_LEVEL": "INFO"}
    env.pop("HCP_DATABASE_URL", None)
    upgrade_once(env, ROOT)
    app = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve", "--no-workers", "--port", str(app_port)],
                           cwd=ROOT, env=env, stdout=app_log, stderr=subprocess.STDOUT)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=hcp.test",
                    "-keyout", str(base / "tls.key"), "-out", str(base / "tls.pem")], check=True, capture_output=True)
    site = (ROOT / "deploy" / "nginx" / "hcp.conf").read_text()
    for old, new in (("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};"),
                     ("listen [::]:80;", ""), ("listen [::]:443 ssl http2;", ""),
                     ("listen 80;", f"listen 127.0.0.1:{http_port};"),
                     ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
                     ("/etc/ssl/certs/hcp.example.gov.cn.pem", str(base / "tls.pem")),
                     ("/etc/ssl/private/hcp.example.gov.cn.key", str(base / "tls.key")),
                     ("hcp.example.gov.cn", "hcp.test"),
                     ("/opt/hcp/venv/lib/python3.11/site-packages/gateway", str(ROOT / "gateway"))):
        assert old in site, old
        site = site.replace(old, new)
    (base / "site.conf").write_text(site)
    temp = "\n".join(f"  {kind}_temp_path {base / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                      "scgi"))
    (base / "nginx.conf").write_text(f"""
worker_processes 1;
pid {base / 'nginx.pid'};
error_log stderr;
events {{ worker_connections 64; }}
http {{
  include /etc/nginx/mime.types;
  access_log off;
{temp}
  include {base / 'site.conf'};
}}
""")
    if os.geteuid() == 0:
        for path in (base, base / "tls.key", base / "tls.pem"):
            shutil.chown(path, "nobody", "nogroup")
    nginx = subprocess.Popen(_as_nobody([NGINX, "-p", str(base), "-c", str(base / "nginx.conf"), "-e", "stderr",
                                         "-g", "daemon off;"]), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        _wait(https_port, nginx, 10)
        _wait(app_port, app, 90)
        yield {"http": http_port, "https": https_port, "log": app_log}
        app.terminate()
        # uvicorn re-raises SIGTERM after its graceful shutdown (systemd counts that as a clean stop)
        assert app.wait(40) in (0, -15)
        app_log.seek(0)
        assert "Application shutdown complete" in app_log.read()
    finally:
        nginx.terminate()
        if app.poll() is None:
            app.kill()
        nginx.wait(10)
        app.wait(10)
        app_log.close()
        shutil.rmtree(base, ignore_errors=True)


def _client(**kwargs: object) -> httpx.Client:
    """A client from 127.0.0.2: an address that is neither nginx's nor the app's."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2", verify=False),
                        headers={"Host": "hcp.test"}, timeout=30, **kwargs)  # type: ignore[arg-type]


def test_plain_http_redirects_to_https(stack: dict) -> None:
    with _client() as client:
        response = client.get(f"http://127.0.0.1:{stack['http']}/web/form?x=1")
    assert response.status_code == 301
    assert response.headers["location"] == "https://hcp.test/web/form?x=1"


def test_the_app_sees_the_clients_address_not_a_forged_header(stack: dict) -> None:
    with _client() as client:
        response = client.get(f"https://127.0.0.1:{stack['https']}/healthz?probe=forwarded",
                              headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.status_code == 200
    assert "max-age" in response.headers["strict-transport-security"]  # the app's, once (not nginx's too)
    assert "," not in response.headers["strict-transport-security"]
    deadline = time.monotonic() + 5
    lines: list[str] = []
    while time.monotonic() < deadline:
        stack["log"].seek(0)
        lines = [line for line in stack["log"].read().splitlines() if "probe=forwarded" in line]
        if lines:
            break
        time.sleep(0.05)
    assert lines and "127.0.0.2" in lines[0] and "203.0.113.9" not in lines[0], lines


def test_body_limits_nginx_stops_only_what_no_page_accepts(stack: dict) -> None:
    base = f"https://127.0.0.1:{stack['https']}"
    with _client() as client:
        too_big = client.post(f"{base}/login", content=b"x" * (2 * 1024 * 1024),
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert too_big.status_code == 413 and "nginx" in too_big.text  # stopped at the edge
        upload = client.post(f"{base}/mailroom/upload", content=b"x" * (2 * 1024 * 1024),
                             headers={"Content-Type": "multipart/form-data; boundary=b"})
        assert upload.status_code != 413 and "nginx" not in upload.text  # reached the app (which asks to log in)
    with _client() as client:
        static = client.get(f"{base}/static/hcp.css")
        assert static.status_code == 200 and "max-age=3600" in static.headers["cache-control"]
        assert static.content == (ROOT / "gateway" / "ui" / "static" / "hcp.css").read_bytes()
        assert re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+"', static.headers["etag"])  # nginx's ETag: read from disk
        assert client.get(f"{base}/static/mailroom.js").status_code == 200  # another feature's folder
        assert client.get(f"{base}/static/nope.css").status_code == 404  # asked of the app, which has none
