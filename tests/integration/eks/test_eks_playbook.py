"""playbooks/eks.yml and eks-destroy.yml run for real against moto's server over HTTP."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from eks_moto import REGION, client

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
VENV_BIN = Path(sys.executable).parent
INVENTORY = ROOT / "inventories" / "examples" / "oidc-datasets"


def run(playbook: str, extra: dict, tmp_path: Path, path: str | None = None) -> subprocess.CompletedProcess:
    extra_file = tmp_path / "extra.json"
    extra_file.write_text(json.dumps(extra))
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
    }
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [
            str(VENV_BIN / "ansible-playbook"),
            "-i",
            str(INVENTORY),
            f"playbooks/{playbook}",
            "-e",
            f"@{extra_file}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def recap(out: str) -> dict[str, int]:
    m = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", out)
    assert m, out
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, m.groups()), strict=True))


def base_extra(aws: str, subnets: list[str], **kw: object) -> dict:
    return {
        "eks_cluster_name": "skyhub-pb",
        "eks_region": REGION,
        "eks_aws_endpoint_url": aws,
        "eks_subnet_ids": subnets,
        "vault_oidc_client_secret": "not-a-real-secret",
        **kw,
    }


def test_without_helm_and_kubectl_the_play_stops_first(aws: str, subnets: list[str], tmp_path: Path) -> None:
    bare = tmp_path / "bin"
    bare.mkdir()
    res = run("eks.yml", base_extra(aws, subnets, eks_push_images=False), tmp_path, path=f"{VENV_BIN}:{bare}")
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "helm and kubectl not found on the controller's PATH" in out, out
    assert "Install them, or set eks_deploy_hub: false" in out
    assert recap(res.stdout)["failed"] == 1
    assert client("eks", aws).list_clusters()["clusters"] == []
    assert client("iam", aws).list_roles()["Roles"] == []
    assert client("ecr", aws).describe_repositories()["repositories"] == []


def test_aws_side_converges_is_idempotent_and_tears_down(
    aws: str, subnets: list[str], tmp_path: Path
) -> None:
    extra = base_extra(aws, subnets, eks_deploy_hub=False, eks_push_images=False, eks_user_max_nodes=6)
    first = run("eks.yml", extra, tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert recap(first.stdout)["changed"] >= 1
    # the parity report is shown before anything is created
    assert "NOT CARRIED to EKS:" in first.stdout and "quotas_warn_percent" in first.stdout
    eks = client("eks", aws)
    assert eks.list_clusters()["clusters"] == ["skyhub-pb"]
    user = eks.describe_nodegroup(clusterName="skyhub-pb", nodegroupName="user")["nodegroup"]
    assert user["scalingConfig"]["maxSize"] == 6
    assert eks.describe_cluster(name="skyhub-pb")["cluster"]["tags"] == {
        "project": "skyhub",
        "owner": "astro-it",
        "skyhub:cluster": "skyhub-pb",
    }
    repos = [r["repositoryName"] for r in client("ecr", aws).describe_repositories()["repositories"]]
    assert repos == ["skyhub/astro"]  # science_images_list of this inventory
    iam = client("iam", aws)
    policy = iam.get_role_policy(RoleName="skyhub-pb-s3-csi", PolicyName="skyhub-datasets-read")[
        "PolicyDocument"
    ]
    buckets = {s["Resource"] for s in policy["Statement"]}
    assert buckets == {
        "arn:aws:s3:::example-edu-survey",
        "arn:aws:s3:::example-edu-survey/*",
    }  # not the public one

    second = run("eks.yml", extra, tmp_path)
    assert second.returncode == 0, second.stdout
    assert recap(second.stdout)["changed"] == 0, second.stdout

    gone = run("eks-destroy.yml", extra, tmp_path)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert "kept user volumes: none" in gone.stdout
    assert eks.list_clusters()["clusters"] == []
    assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == []
    assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
    assert client("ecr", aws).describe_repositories()["repositories"] == []
