"""skyhub build's Packer driver: staging, errors, variables, content key, manifest parsing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from skyhub.build import image, packer
from skyhub.errors import SkyhubError

REPO = Path(__file__).resolve().parents[3]


def test_staging_uses_the_1_6_6_files_unless_packer_is_modern(tmp_path):
    old = packer.stage_template(REPO / "packer", tmp_path / "old", modern=False)
    new = packer.stage_template(REPO / "packer", tmp_path / "new", modern=True)
    assert "plugins.pkr.hcl" not in old and "plugins.pkr.hcl" in new
    assert "imds_support" not in (tmp_path / "old" / "aws.pkr.hcl").read_text().split("#")[-1]
    assert 'imds_support = "v2.0"' in (tmp_path / "new" / "aws.pkr.hcl").read_text()
    assert "metadata_options" not in (tmp_path / "old" / "aws.pkr.hcl").read_text()


@pytest.mark.parametrize(
    ("output", "needle"),
    [
        ("Error: NoCredentialProviders: no valid providers in chain", "AWS credentials"),
        ('Error running "ansible-playbook --version": exec: not found', "make setup"),
        ('Blocks of type "metadata_options" are not expected here.\nUnsupported block type', "1.6.6"),
        ("Error response from daemon: No such image: skyhub/debian12-host:x", "make base-images"),
        ('Conflict. The container name "/skyhub-image-build" is already in use', "docker rm -f"),
        (
            "Error modify AMI attributes: OperationNotPermitted: You can't publicly share this image because "
            "block public access for AMIs is enabled for this account.",
            "disable-image-block-public-access",
        ),
        (
            "Error modify AMI attributes: InvalidParameter: Snapshots encrypted with the AWS Managed CMK "
            "can\u2019t be shared. Specify another snapshot.",
            "get-ebs-encryption-by-default",
        ),
    ],
)
def test_common_packer_failures_are_explained(output, needle):
    assert needle in (packer.explain(output.splitlines()) or "")


def test_unknown_failure_has_no_made_up_explanation():
    assert packer.explain(["something odd happened"]) is None


def test_missing_packer_binary_says_how_to_install(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SkyhubError, match="apt-get install packer"):
        packer.find_packer()


def test_version_parsing():
    assert packer.parse_version("Packer v1.6.6\n") == (1, 6, 6)
    assert packer.parse_version("Packer v1.11.2") >= packer.MODERN_VERSION
    with pytest.raises(SkyhubError):
        packer.parse_version("nothing")


def test_stream_prefixes_elapsed_time_and_raises_with_the_explanation():
    seen: list[str] = []
    code = "print('step one'); print('NoCredentialProviders'); raise SystemExit(3)"
    with pytest.raises(SkyhubError) as err:
        packer.stream([sys.executable, "-c", code], "aws", echo=seen.append)
    assert seen[0].startswith("[aws 00:0") and seen[0].endswith("step one")
    assert "exit 3" in str(err.value) and "AWS credentials" in str(err.value)


def test_var_parsing():
    assert image.parse_variables(["a=1", "b=x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(SkyhubError, match="NAME=VALUE"):
        image.parse_variables(["novalue"])


def test_content_key_follows_files_and_variables(tmp_path):
    (tmp_path / "roles" / "r").mkdir(parents=True)
    f = tmp_path / "roles" / "r" / "main.yml"
    f.write_text("a: 1\n")
    k1 = image.content_key(tmp_path, {}, ("roles",))
    assert image.content_key(tmp_path, {}, ("roles",)) == k1
    assert image.content_key(tmp_path, {"playbook": "x"}, ("roles",)) != k1
    f.write_text("a: 2\n")
    assert image.content_key(tmp_path, {}, ("roles",)) != k1


def test_ami_ids_from_the_artifact():
    assert image.amis_from_artifact("us-east-1:ami-1,eu-west-1:ami-2") == {
        "us-east-1": "ami-1",
        "eu-west-1": "ami-2",
    }


def test_last_artifact_of_the_source(tmp_path):
    manifest = tmp_path / "m.json"
    manifest.write_text(
        json.dumps(
            {
                "builds": [
                    {"name": "local", "artifact_id": "sha256:old"},
                    {"name": "aws", "artifact_id": "us-east-1:ami-9"},
                    {"name": "local", "artifact_id": "sha256:new"},
                ]
            }
        )
    )
    assert image.last_artifact(manifest, "docker.local") == "sha256:new"
    assert image.last_artifact(manifest, "amazon-ebs.aws") == "us-east-1:ami-9"
    with pytest.raises(SkyhubError):
        image.last_artifact(tmp_path / "missing.json", "docker.local")


def test_unknown_target_is_refused():
    with pytest.raises(SkyhubError, match="--target"):
        image.build(image.BuildRequest(target="gcp"))


def test_content_key_follows_the_contents_of_vars_files(tmp_path):
    (tmp_path / "roles").mkdir()
    vars_file = tmp_path / "local.yml"
    vars_file.write_text("a: 1\n")
    variables = {"vars_files": '["local.yml"]'}
    k1 = image.content_key(tmp_path, variables, ("roles",))
    vars_file.write_text("a: 2\n")
    assert image.content_key(tmp_path, variables, ("roles",)) != k1
    with pytest.raises(SkyhubError, match="not a file"):
        image.content_key(tmp_path, {"vars_files": '["gone.yml"]'}, ("roles",))
    with pytest.raises(SkyhubError, match="JSON list"):
        image.content_key(tmp_path, {"vars_files": "local.yml"}, ("roles",))
