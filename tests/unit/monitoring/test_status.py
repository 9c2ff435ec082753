"""skyhub status: the one screen and the JSON, from fixtures shaped like the real sources' output."""

from __future__ import annotations

import copy
import http.server
import json
import os
import threading
import time
from typing import Any, ClassVar

from conftest import NOW


def test_healthy_hub_on_one_screen(status, gathered) -> None:
    text = status.format_status(gathered)
    lines = text.splitlines()
    assert lines[0] == "skyhub status: skyhub-1, 2025-11-30 22:00:00 UTC"
    assert "Hub       2 user(s), 1 server(s) running" in lines
    assert "Dataset   hst at /srv/skyhub/data/hst: mounted, answering, checked 12 s ago" in lines
    assert any(
        ln.startswith("Backup    last success 2025-11-30T21:00:00+00:00 (1 h ago), last run ok")
        for ln in lines
    )
    assert "Quotas    NOT enforced (usage measured only), warning at 90%" in lines
    assert "Alerts    none firing" in lines
    table = lines[lines.index("Alerts    none firing") + 2 :]
    assert table[0].split() == ["USER", "SERVER", "LAST", "ACTIVE", "USED", "QUOTA", "USE%"]
    assert table[1].split() == ["alice", "running", "2", "min", "ago", "150.0", "MiB", "200.0", "MiB", "75%"]
    assert table[2].split()[:2] == ["bob", "-"] and table[2].endswith("95% WARN")
    assert lines[-1] == "All good."
    assert len(lines) <= 25  # one screen


def test_firing_alerts_and_failures_need_attention(status, gathered) -> None:
    data = copy.deepcopy(gathered)
    data["alerts"] = {
        "alerts": [
            {
                "labels": {
                    "alertname": "SkyhubDatasetDown",
                    "severity": "critical",
                    "dataset": "hst",
                    "job": "node",
                },
                "annotations": {"summary": "Dataset hst is not available at /srv/skyhub/data/hst"},
                "startsAt": "2025-11-30T21:54:00Z",
            }
        ]
    }
    data["datasets"][0].update(unit="activating", mounted=False, answering=False)
    data["backup"].update(last_status="failed", last_error="restic backup failed (exit 1): wrong password")
    data["services"]["traefik.service"] = "failed"
    text = status.format_status(data)
    assert "Alerts    1 firing:" in text
    assert "  critical SkyhubDatasetDown (dataset=hst) since 6 min ago: Dataset hst is not available" in text
    assert "hst at /srv/skyhub/data/hst: NOT AVAILABLE (unit activating, not mounted, not answering)" in text
    assert "last run failed: restic backup failed (exit 1): wrong password" in text
    attention = text.split("NEEDS ATTENTION (4):\n")[1].splitlines()
    assert attention == [
        "  - traefik.service is failed",
        "  - dataset hst is not available",
        "  - last backup failed: restic backup failed (exit 1): wrong password",
        "  - alert SkyhubDatasetDown: Dataset hst is not available at /srv/skyhub/data/hst",
    ]
    out = status.as_json(data)
    assert out["ok"] is False and len(out["attention"]) == 4
    assert (
        out["alerts"][0]["alertname"] == "SkyhubDatasetDown"
        and out["alerts"][0]["labels"]["dataset"] == "hst"
    )


def test_unreadable_sources_are_said_not_guessed(status, gathered) -> None:
    data = copy.deepcopy(gathered)
    data["hub"] = {"error": "hub API http://172.29.0.1:15001/hub/api: [Errno 111] Connection refused"}
    data["alerts"] = {"error": "Alertmanager http://127.0.0.1:9093: [Errno 111] Connection refused"}
    data["quota"] = {"error": "skyhub-quota is not installed"}
    data["backup"] = {"configured": False}
    text = status.format_status(data)
    assert "Hub       cannot list users: hub API http://172.29.0.1:15001/hub/api: [Errno 111]" in text
    assert "Alerts    unknown: Alertmanager http://127.0.0.1:9093: [Errno 111] Connection refused" in text
    assert "Quotas    unknown: skyhub-quota is not installed" in text
    assert "Backup    not configured" in text
    assert "NEEDS ATTENTION (1):" in text  # the hub; an unreachable Alertmanager is shown, not counted twice


def test_json_lists_users_and_running_servers(status, gathered) -> None:
    out = status.as_json(gathered)
    json.dumps(out)  # serialisable
    assert out["ok"] is True and out["attention"] == []
    assert [u["name"] for u in out["users"]] == ["alice", "bob"]
    assert [u["server_running"] for u in out["users"]] == [True, False]
    assert out["running_servers"] == [
        {"user": "alice", "name": "", "started": "2025-11-30T21:40:00Z", "ready": True}
    ]
    assert out["quota"]["users"][1]["warn"] is True
    assert out["time"] == "2025-11-30T22:00:00+00:00"


def test_ago_and_sizes(status) -> None:
    assert status.ago(None, NOW) == "never"
    assert status.ago(NOW - 30, NOW) == "30 s ago"
    assert status.ago(NOW - 7200, NOW) == "2 h ago"
    assert status.ago(NOW - 3 * 86400, NOW) == "3 d ago"
    assert status.fmt_size(512) == "512 B"
    assert status.fmt_size(3 * 2**30) == "3.0 GiB"


class _Hub(http.server.BaseHTTPRequestHandler):
    users: ClassVar[list[dict[str, Any]]] = []

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != "token s3cret":
            self.send_response(403)
            self.end_headers()
            return
        q = dict(p.split("=") for p in self.path.split("?", 1)[1].split("&"))
        start, limit = int(q["offset"]), int(q["limit"])
        body = json.dumps(_Hub.users[start : start + limit]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_hub_users_pages_through_the_api_with_the_token(status, tmp_path) -> None:
    _Hub.users = [{"name": f"u{i:03d}", "servers": {}} for i in range(450)]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        token = tmp_path / "token"
        token.write_text("s3cret\n")
        cfg = {
            "hub_api_url": f"http://127.0.0.1:{server.server_port}/hub/api",
            "token_file": str(token),
            "timeout": 5,
        }
        got = status.hub_users(cfg)
        assert [u["name"] for u in got["users"]] == [u["name"] for u in _Hub.users]
        token.write_text("wrong\n")  # control: a token the hub refuses is reported, not an empty hub
        assert status.hub_users(cfg) == {"error": "hub API: HTTP 403 Forbidden"}
        missing = status.hub_users({**cfg, "token_file": str(tmp_path / "missing")})
        assert missing["error"].startswith("no token at ")
    finally:
        server.shutdown()


def test_a_stale_dataset_probe_is_not_reported_as_answering(status, tmp_path) -> None:
    conf = tmp_path / "datasets"
    conf.mkdir()
    (conf / "hst.conf").write_text("DATASET_NAME=hst\nDATASET_MOUNTPOINT=/srv/skyhub/data/hst\n")
    prom = tmp_path / "skyhub_dataset.prom"
    prom.write_text('skyhub_dataset_up{dataset="hst",mountpoint="/srv/skyhub/data/hst"} 1\n')
    cfg = {"datasets_conf_dir": str(conf), "textfile_dir": str(tmp_path)}
    assert status.datasets(cfg)[0]["answering"] is True
    old = time.time() - status.STALE_PROBE_SECONDS - 60
    os.utime(prom, (old, old))
    assert status.datasets(cfg)[0]["answering"] is None
