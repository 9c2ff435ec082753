"""`skyhub eks plan`, `skyhub eks token` and the restic -> EKS migration manifests."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
import yaml

from skyhub.cli import main
from skyhub.eks import migrate
from skyhub.eks.inventory import load_vars

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "inventories" / "examples"


def test_plan_prints_the_table_and_the_loud_list(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_values = tmp_path / "values.yaml"
    assert main(["eks", "plan", "-i", str(EXAMPLES / "github-team"), "--values", str(out_values)]) == 0
    out = capsys.readouterr().out
    assert "tljh_spawner_mem_limit" in out and "singleuser.memory.limit" in out
    assert "!!! NOT CARRIED TO EKS" in out
    loud = out.split("!!! NOT CARRIED TO EKS", 1)[1]
    assert "backups_enabled" in loud and "quotas_warn_percent" in loud and "cache_size_mb" in loud
    assert "Zero to JupyterHub chart 4.4.0" in out
    assert yaml.safe_load(out_values.read_text())["singleuser"]["memory"]["limit"] == "4G"


def test_plan_strict_fails_when_something_is_not_carried() -> None:
    assert main(["eks", "plan", "-i", str(EXAMPLES / "local-demo"), "--strict"]) == 3


def test_plan_reports_a_bad_inventory_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "vars.yml"
    bad.write_text("tljh_authenticator: ldap\n")
    assert main(["eks", "plan", "-i", str(bad)]) == 2
    assert "tljh_authenticator must be one of firstuse, github, oidc (got 'ldap')" in capsys.readouterr().err
    assert main(["eks", "plan", "-i", str(tmp_path / "missing")]) == 2


def test_inventory_dir_merges_all_then_hub(tmp_path: Path) -> None:
    (tmp_path / "group_vars" / "hub").mkdir(parents=True)
    (tmp_path / "group_vars" / "all.yml").write_text("tljh_spawner_mem_limit: 2G\ntljh_admin_users: [a]\n")
    (tmp_path / "group_vars" / "hub" / "limits.yml").write_text("tljh_spawner_mem_limit: 8G\n")
    assert load_vars(tmp_path) == {"tljh_spawner_mem_limit": "8G", "tljh_admin_users": ["a"]}


def test_token_is_a_presigned_sts_call_naming_the_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    res = subprocess.run(
        [sys.executable, "-m", "skyhub.cli", "eks", "token", "--cluster", "hub1", "--region", "eu-west-1"],
        capture_output=True,
        text=True,
        check=True,
    )
    cred = json.loads(res.stdout)
    assert cred["kind"] == "ExecCredential"
    token = cred["status"]["token"]
    assert token.startswith("k8s-aws-v1.")
    raw = token.removeprefix("k8s-aws-v1.")
    url = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    parsed = urllib.parse.urlparse(url)
    query = urllib.parse.parse_qs(parsed.query)
    assert parsed.netloc == "sts.eu-west-1.amazonaws.com"
    assert query["Action"] == ["GetCallerIdentity"]
    assert "x-k8s-aws-id" in query["X-Amz-SignedHeaders"][0].split(";")
    assert query["X-Amz-Expires"] == ["60"]


# --- migration ---------------------------------------------------------------------------------------


def test_restore_manifests_claim_sizes_follow_quota_precedence() -> None:
    hub = {**load_vars(EXAMPLES / "github-team"), "quotas_group_sizes": {"big": "50G", "bigger": "0.1T"}}
    hub["quotas_user_sizes"] = {"alice": "200G"}
    docs = migrate.restore_manifests(hub, {"alice": ["big"], "bob": ["big", "bigger"], "carl": []})
    claims = {d["metadata"]["name"]: d for d in docs if d["kind"] == "PersistentVolumeClaim"}
    sizes = {n: c["spec"]["resources"]["requests"]["storage"] for n, c in claims.items()}
    assert sizes == {"claim-alice": "200Gi", "claim-bob": "0.1Ti", "claim-carl": "20Gi"}
    assert all(c["spec"]["storageClassName"] == "skyhub-gp3" for c in claims.values())


def test_restore_job_reads_the_vm_repository_and_fixes_ownership() -> None:
    docs = migrate.restore_manifests(load_vars(EXAMPLES / "github-team"), {"alice": []}, snapshot="abc123")
    (job,) = [d for d in docs if d["kind"] == "Job"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert (
        env["RESTIC_REPOSITORY"]["value"] == "s3:s3.us-east-1.amazonaws.com/my-observatory-hub-backups/skyhub"
    )
    assert env["RESTIC_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "skyhub-restic"
    script = container["command"][2]
    assert "restic restore abc123 --path /srv/skyhub/home/alice" in script
    assert "chown -R 1000:100 /home/jovyan" in script
    volumes = job["spec"]["template"]["spec"]["volumes"]
    assert volumes[0] == {"name": "home", "persistentVolumeClaim": {"claimName": "claim-alice"}}


def test_restore_refuses_without_backups_and_for_names_needing_escapes() -> None:
    with pytest.raises(ValueError, match="no restic repository"):
        migrate.restore_manifests(load_vars(EXAMPLES / "local-demo"), {"alice": []})
    with pytest.raises(ValueError, match="spawn this user once"):
        migrate.claim_name("Alice.Smith")


def test_script_writes_yaml(tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text("# user groups\nalice\nbob staff\n")
    script = str(ROOT / "scripts/migrate_to_eks.py")
    cmd = [sys.executable, script, "-i", str(EXAMPLES / "github-team"), "--users", str(users)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    kinds = [d["kind"] for d in yaml.safe_load_all(res.stdout)]
    assert kinds == ["PersistentVolumeClaim", "Job", "PersistentVolumeClaim", "Job"]
