"""The Packer template's rendered settings: parsed with python-hcl2, checked against `packer validate`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import hcl2
import pytest

REPO = Path(__file__).resolve().parents[3]
PACKER = REPO / "packer"
ANSIBLE = REPO / ".venv" / "bin" / "ansible-playbook"


def _load(path: Path) -> dict:
    with path.open() as fh:
        return hcl2.load(fh)


def _strip(value):
    """python-hcl2 keeps string quotes and ${} wrappers; normalise to the bare expression or literal."""
    if isinstance(value, str):
        v = value.strip()
        if v.startswith('"') and v.endswith('"'):
            v = v[1:-1]
        if v.startswith("${") and v.endswith("}"):
            v = v[2:-1]
        return v
    if isinstance(value, list):
        return [_strip(v) for v in value]
    if isinstance(value, dict):
        return {_strip(k): _strip(v) for k, v in value.items() if k not in ("__is_block__", "__comments__")}
    return value


def _source(path: Path, kind: str, name: str) -> dict:
    for block in _load(path).get("source", []):
        body = _strip(block)
        if kind in body and name in body[kind]:
            return body[kind][name]
    raise AssertionError(f"no source {kind}.{name} in {path}")


def _locals() -> dict:
    out: dict = {}
    for block in _load(PACKER / "skyhub.pkr.hcl").get("locals", []):
        out.update(_strip(block))
    return out


def _block(src: dict, name: str) -> dict:
    value = src[name]
    return value[0] if isinstance(value, list) else value


@pytest.fixture(scope="module")
def legacy() -> dict:
    return _source(PACKER / "aws.pkr.hcl", "amazon-ebs", "aws")


@pytest.fixture(scope="module")
def modern() -> dict:
    return _source(PACKER / "modern" / "aws.pkr.hcl", "amazon-ebs", "aws")


def test_modern_aws_requires_imdsv2_with_one_hop_and_an_imdsv2_only_ami(modern):
    meta = _block(modern, "metadata_options")
    assert meta["http_tokens"] == "required"
    assert int(meta["http_put_response_hop_limit"]) == 1
    assert meta["http_endpoint"] == "enabled"
    assert modern["imds_support"] == "v2.0"


def test_modern_file_differs_from_the_1_6_6_file_only_by_imds_and_deprecation(legacy, modern):
    extra = set(modern) - set(legacy)
    assert extra == {"metadata_options", "imds_support", "deprecate_at"}
    assert {k: v for k, v in modern.items() if k not in extra} == legacy


def test_modern_sets_the_deprecation_date_only_when_given(modern):
    assert modern["deprecate_at"] == 'var.aws_deprecate_at == "" ? null : var.aws_deprecate_at'


def _variables() -> dict:
    variables: dict = {}
    for block in _load(PACKER / "variables.pkr.hcl")["variable"]:
        variables.update(_strip(block))
    return variables


@pytest.mark.parametrize("src_name", ["legacy", "modern"])
def test_root_volume_and_ami_follow_aws_encrypt_boot_which_defaults_to_encrypted(src_name, request):
    src = request.getfixturevalue(src_name)
    assert src["encrypt_boot"] == "var.aws_encrypt_boot"
    disk = _block(src, "launch_block_device_mappings")
    assert disk["encrypted"] == "var.aws_encrypt_boot"
    assert disk["volume_type"] == "gp3"
    assert disk["device_name"] == "local.aws_base.root_device"
    variables = _variables()
    assert variables["aws_encrypt_boot"]["default"] is True
    assert variables["aws_public"]["default"] is False
    assert variables["aws_deprecate_at"]["default"] == ""


@pytest.mark.parametrize("src_name", ["legacy", "modern"])
def test_launch_permission_is_the_public_guarded_local(src_name, request):
    src = request.getfixturevalue(src_name)
    assert src["ami_groups"] == "local.ami_groups"
    assert src["ami_regions"] == "var.aws_ami_regions"
    assert src["ami_description"] == "local.ami_description"
    groups = _locals()["ami_groups"]
    # all only when public and unencrypted; the encrypted case stops at file() (checked by packer below)
    assert groups.startswith("var.aws_public ? (")
    assert 'var.aws_encrypt_boot || var.aws_kms_key_id != ""' in groups
    assert '["all"]' in groups and groups.rstrip().endswith(": []")


def test_base_ami_comes_from_the_publishers_account_by_name_filter(legacy):
    flt = _block(legacy, "source_ami_filter")
    assert flt["owners"] == ["local.aws_base.owner"]
    assert flt["most_recent"] is True
    assert flt["filters"]["name"] == "local.aws_base.name"
    bases = _locals()["aws_bases"]
    assert bases["ubuntu-24.04"]["owner"] == "099720109477"  # Canonical
    assert "ubuntu-noble-24.04-amd64-server-" in bases["ubuntu-24.04"]["name"]
    assert bases["debian-12"]["owner"] == "136693071363"  # Debian
    assert bases["debian-12"]["name"].startswith("debian-12-amd64-")


def test_default_base_is_ubuntu_24_04():
    assert _variables()["aws_base_os"]["default"] == "ubuntu-24.04"


def test_tags_say_what_the_image_is_and_which_commit_built_it():
    tags = _locals()["image_tags"]
    expected = {
        "skyhub:image": "var.image_summary",
        "skyhub:version": "var.version",
        "skyhub:git-revision": "var.git_revision",
        "skyhub:git-commit": "var.git_commit",
        "skyhub:git-dirty": "var.git_dirty",
    }
    for key, value in expected.items():
        assert key in tags and value in tags, key
    assert "Name" in tags
    # tags are not shown to other accounts: the description (public) names the commit and the summary too
    description = _locals()["ami_description"]
    assert "var.git_revision" in description and "var.image_summary" in description


def test_docker_source_boots_systemd_with_the_container_flags_and_no_entrypoint_leak():
    src = _source(PACKER / "skyhub.pkr.hcl", "docker", "local")
    run = src["run_command"]
    assert run[-2:] == ["{{.Image}}", "/sbin/init"]
    for flag in ("--cgroupns=host", "SYS_ADMIN", "seccomp=unconfined", "/dev/fuse", "/var/lib/docker"):
        assert any(flag in arg for arg in run), flag
    assert not any("--entrypoint" in arg for arg in run)
    assert src["commit"] is True
    assert not any("STOPSIGNAL" in c for c in src["changes"])  # docker 20.10 refuses it


def test_modern_overlay_declares_the_plugins():
    packer_block = _strip(_load(PACKER / "modern" / "plugins.pkr.hcl")["packer"][0])
    plugins = packer_block["required_plugins"]
    plugins = plugins[0] if isinstance(plugins, list) else plugins
    assert set(plugins) == {"amazon", "docker", "ansible"}


def _validate(*extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["HOME"] = "/nonexistent"
    return subprocess.run(
        [
            "packer",
            "validate",
            f"-var=repo_root={REPO}",
            f"-var=ansible_playbook={REPO}/.venv/bin/ansible-playbook",
            *extra,
            str(PACKER),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


@pytest.mark.skipif(shutil.which("packer") is None, reason="packer not installed (lint installs it)")
@pytest.mark.parametrize("only", ["amazon-ebs.aws", "docker.local"])
def test_packer_validates_each_source_without_aws_credentials(only):
    res = _validate(f"-only={only}")
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.skipif(shutil.which("packer") is None, reason="packer not installed (lint installs it)")
@pytest.mark.parametrize("extra", [[], ["-var=aws_encrypt_boot=false", "-var=aws_kms_key_id=alias/k"]])
def test_packer_refuses_a_public_encrypted_image(extra):
    res = _validate("-only=amazon-ebs.aws", "-var=aws_public=true", *extra)
    assert res.returncode != 0
    assert "needs aws_encrypt_boot = false" in " ".join((res.stdout + res.stderr).split())


@pytest.mark.skipif(shutil.which("packer") is None, reason="packer not installed (lint installs it)")
def test_packer_rejects_an_unknown_base_os():
    res = _validate("-only=amazon-ebs.aws", "-var=aws_base_os=centos-7")
    assert res.returncode != 0
    assert "ubuntu-24.04 or debian-12" in res.stdout + res.stderr
