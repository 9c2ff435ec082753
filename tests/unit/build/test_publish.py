"""Publishing the AMI: the Packer variables `skyhub build --target aws [--public]` generates, and the bad
input it refuses before Packer runs (docs/publishing.md). Nothing here calls AWS."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from skyhub import cli
from skyhub.build import image, packer, publish
from skyhub.build.publish import PublishOptions
from skyhub.errors import SkyhubError

REPO = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
DATASET = ["us-east-1"]


def resolve(variables=None, dirty=False, **opts):
    return publish.resolve(
        dict(variables or {}), PublishOptions(**opts), now=NOW, dataset_region_list=DATASET, dirty=dirty
    )


# ---- the two modes ----


def test_private_default_is_encrypted_not_shared_and_not_deprecated():
    out = resolve()
    assert out["aws_public"] == "false"
    assert out["aws_encrypt_boot"] == "true"
    assert out["aws_region"] == "us-east-1"
    assert json.loads(out["aws_ami_regions"]) == []
    assert out["aws_deprecate_at"] == ""


def test_public_is_unencrypted_copied_and_deprecated_in_a_year_by_default():
    out = resolve(public=True, regions="us-east-1,us-west-2,eu-west-1")
    assert out["aws_public"] == "true"
    assert out["aws_encrypt_boot"] == "false"
    assert out["aws_region"] == "us-east-1"
    assert json.loads(out["aws_ami_regions"]) == ["us-west-2", "eu-west-1"]
    assert out["aws_deprecate_at"] == "2027-11-30T00:00:00Z"


def test_public_with_an_explicit_deprecation_date_keeps_it():
    out = resolve(public=True, deprecate_at="2027-06-30")
    assert out["aws_deprecate_at"] == "2027-06-30T00:00:00Z"
    out = resolve(public=True, deprecate_at="2027-06-30T15:45:00Z")
    assert out["aws_deprecate_at"] == "2027-06-30T15:45:00Z"


def test_public_through_var_settings_alone_gets_the_same_treatment():
    out = resolve({"aws_public": "true"})
    assert out["aws_encrypt_boot"] == "false"
    assert out["aws_deprecate_at"] == "2027-11-30T00:00:00Z"


def test_other_variables_pass_through_untouched():
    out = resolve({"aws_base_os": "debian-12", "vars_files": '["x.yml"]'}, public=True)
    assert out["aws_base_os"] == "debian-12"
    assert out["vars_files"] == '["x.yml"]'


# ---- public + encrypted is refused, naming both settings ----


def test_public_and_encrypted_is_refused_naming_both():
    with pytest.raises(SkyhubError) as err:
        resolve({"aws_encrypt_boot": "true"}, public=True)
    msg = str(err.value)
    assert "--public" in msg and "aws_encrypt_boot" in msg and "encrypted AMI publicly" in msg


def test_public_var_and_encrypted_is_refused_naming_the_var():
    with pytest.raises(SkyhubError, match=r"--var aws_public=true and --var aws_encrypt_boot=true"):
        resolve({"aws_public": "true", "aws_encrypt_boot": "true"})


def test_public_with_a_kms_key_is_refused_naming_both():
    with pytest.raises(SkyhubError) as err:
        resolve({"aws_kms_key_id": "alias/skyhub"}, public=True)
    assert "--public" in str(err.value) and "aws_kms_key_id=alias/skyhub" in str(err.value)


def test_private_with_a_kms_key_stays_allowed():
    # control for the refusal above: the key is fine for a private, encrypted image
    out = resolve({"aws_kms_key_id": "alias/skyhub"})
    assert out["aws_encrypt_boot"] == "true" and out["aws_kms_key_id"] == "alias/skyhub"


def test_a_kms_key_without_encryption_is_refused():
    with pytest.raises(SkyhubError, match="would not be used"):
        resolve({"aws_kms_key_id": "alias/skyhub", "aws_encrypt_boot": "false"})


def test_a_boolean_that_is_not_one_is_refused_naming_the_variable():
    with pytest.raises(SkyhubError, match=r"aws_public='maybe': use true or false"):
        resolve({"aws_public": "maybe"})


# ---- regions ----


@pytest.mark.parametrize(
    "name",
    ["us-east-1", "eu-west-2", "ap-southeast-2", "ap-northeast-3", "us-gov-west-1", "cn-northwest-1",
     "eu-central-2", "il-central-1", "ca-west-1", "us-isob-east-1"],
)  # fmt: skip
def test_real_region_names_pass(name):
    assert publish.check_region(name, "--regions") == name


@pytest.mark.parametrize("name", ["us-east1", "US-EAST-1", "useast-1", "us-east-1a", "east", "us_east_1", ""])
def test_malformed_region_names_are_refused_with_the_option_and_examples(name):
    with pytest.raises(SkyhubError) as err:
        resolve(regions=f"us-east-1,{name}" if name else ",")
    msg = str(err.value)
    assert msg.startswith("--regions")
    assert "us-east-1" in msg  # the example of a well-formed name, or the fix


def test_a_malformed_region_in_var_settings_names_the_variable():
    with pytest.raises(SkyhubError, match=r"--var aws_region: 'eu-west1' is not an AWS region name"):
        resolve({"aws_region": "eu-west1"})
    with pytest.raises(SkyhubError, match=r"--var aws_ami_regions: 'EU-WEST-1'"):
        resolve({"aws_ami_regions": '["EU-WEST-1"]'})
    with pytest.raises(SkyhubError, match="JSON list"):
        resolve({"aws_ami_regions": "eu-west-1"})


def test_a_region_listed_twice_is_refused():
    with pytest.raises(SkyhubError, match="us-west-2 is listed twice"):
        resolve(regions="us-east-1,us-west-2,us-west-2")
    with pytest.raises(SkyhubError, match="us-east-1 is listed twice"):
        resolve({"aws_region": "us-east-1", "aws_ami_regions": '["us-east-1"]'})


def test_regions_option_and_region_variables_cannot_both_be_given():
    with pytest.raises(SkyhubError, match="--regions and --var aws_region"):
        resolve({"aws_region": "us-east-1"}, regions="us-east-1")


def test_a_public_image_is_built_in_the_datasets_region_first_with_the_fix():
    with pytest.raises(SkyhubError) as err:
        resolve(public=True, regions="eu-west-1,us-east-1")
    assert "--regions us-east-1,eu-west-1" in str(err.value)
    with pytest.raises(SkyhubError, match="--regions us-east-1,eu-west-1"):
        resolve(public=True, regions="eu-west-1")


def test_a_private_image_may_be_built_anywhere():
    out = resolve(regions="eu-west-1")
    assert out["aws_region"] == "eu-west-1"


def test_the_datasets_region_comes_from_the_role_defaults_or_a_vars_file(tmp_path):
    assert publish.dataset_regions(REPO, []) == ["us-east-1"]
    own = tmp_path / "site.yml"
    own.write_text(
        "dataset_mount_datasets:\n"
        "  - {name: a, bucket: a, region: eu-west-2}\n"
        "  - {name: twin, bucket: b, region: us-east-1, endpoint_url: 'http://127.0.0.1:9000'}\n"
    )
    assert publish.dataset_regions(REPO, [str(own)]) == ["eu-west-2"]
    unrelated = tmp_path / "other.yml"
    unrelated.write_text("tljh_admin_users: [a]\n")
    assert publish.dataset_regions(REPO, [str(own), str(unrelated)]) == ["eu-west-2"]


# ---- deprecation date ----


@pytest.mark.parametrize("when", ["2026-11-29", "2020-01-01T00:00:00Z", "2026-11-30T11:59:00Z"])
def test_a_deprecation_date_in_the_past_is_refused(when):
    with pytest.raises(SkyhubError) as err:
        resolve(deprecate_at=when)
    msg = str(err.value)
    assert msg.startswith("--deprecate-at") and "in the past" in msg and "future date" in msg


def test_a_past_date_in_var_settings_names_the_variable():
    with pytest.raises(SkyhubError, match=r"^--var aws_deprecate_at .* is in the past"):
        resolve({"aws_deprecate_at": "2025-01-01T00:00:00Z"})


@pytest.mark.parametrize(
    "when", ["tomorrow", "30/06/2027", "2027-06-31", "2027-06-30 12:00", "2027-06-30T12:00:00+02:00"]
)
def test_a_deprecation_date_that_is_not_one_is_refused_with_the_format(when):
    with pytest.raises(SkyhubError, match=r"--deprecate-at .* is not a date: give YYYY-MM-DD"):
        resolve(deprecate_at=when)


def test_public_deprecation_is_at_most_two_years_ahead_private_at_most_ten():
    with pytest.raises(SkyhubError, match="public AMI: 2 years"):
        resolve(public=True, deprecate_at="2029-01-01")
    assert resolve(deprecate_at="2029-01-01")["aws_deprecate_at"] == "2029-01-01T00:00:00Z"  # private: fine
    with pytest.raises(SkyhubError, match="10 years"):
        resolve(deprecate_at="2037-01-01")


# ---- provenance: a public image names its commit ----


def test_a_public_image_from_a_dirty_tree_is_refused_unless_allowed():
    with pytest.raises(SkyhubError, match="--allow-dirty"):
        resolve(public=True, dirty=True)
    assert resolve(public=True, dirty=True, allow_dirty=True)["aws_public"] == "true"
    assert resolve(dirty=True)["aws_public"] == "false"  # a private build from a dirty tree is fine


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_git_state_names_the_full_commit_and_whether_the_images_inputs_changed(tmp_path):
    (tmp_path / "roles").mkdir()
    (tmp_path / "roles" / "a.yml").write_text("a: 1\n")
    (tmp_path / "README.md").write_text("x\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "one")
    head = _git(tmp_path, "rev-parse", "HEAD")
    state = image.git_state(tmp_path)
    assert state.commit == head and len(head) == 40 and state.dirty is False
    assert state.revision == head[:12]
    (tmp_path / "README.md").write_text("y\n")  # not an input of the image
    assert image.git_state(tmp_path).dirty is False
    (tmp_path / "roles" / "a.yml").write_text("a: 2\n")
    state = image.git_state(tmp_path)
    assert state.dirty is True and state.revision == head[:12] + "-dirty"


def test_outside_git_the_commit_is_unknown(tmp_path):
    state = image.git_state(tmp_path)
    assert state.commit == "unknown" and state.revision == "unknown" and state.dirty is False


def test_the_build_variables_carry_commit_and_dirty_flag():
    req = image.BuildRequest(target="aws", publish=PublishOptions(public=True, allow_dirty=True))
    git = image.GitState(commit="a" * 40, dirty=True)
    out = image.resolve_variables(req, "key", git, now=NOW)
    assert out["git_commit"] == "a" * 40
    assert out["git_dirty"] == "true"
    assert out["git_revision"] == "a" * 12 + "-dirty"
    assert out["aws_public"] == "true" and out["aws_encrypt_boot"] == "false"


def test_publishing_options_need_the_aws_target():
    req = image.BuildRequest(target="local", publish=PublishOptions(public=True))
    with pytest.raises(SkyhubError, match="--target aws"):
        image.resolve_variables(req, "key", image.GitState("unknown", False), now=NOW)


# ---- the command line: a clear error, no traceback, before Packer runs ----


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--public", "--var", "aws_encrypt_boot=true"], "--public and --var aws_encrypt_boot=true"),
        (["--regions", "us-east1"], "--regions: 'us-east1' is not an AWS region name"),
        (["--deprecate-at", "2020-01-01"], "--deprecate-at 2020-01-01T00:00:00Z is in the past"),
    ],
)
def test_cli_reports_bad_input_plainly_before_packer(argv, needle, capsys):
    rc = cli.main(["build", "--target", "aws", "--validate-only", "--allow-dirty", *argv])
    out, err = capsys.readouterr()
    assert rc == 2
    assert err.startswith("skyhub: error: ") and needle in err
    assert "Traceback" not in err
    assert "Packer" not in out  # refused before Packer was even asked its version


# ---- the generated settings validate with the real template ----


@pytest.mark.skipif(shutil.which("packer") is None, reason="packer not installed (lint installs it)")
@pytest.mark.parametrize("public", [False, True])
def test_generated_settings_pass_packer_validate(public, tmp_path):
    req = image.BuildRequest(
        target="aws",
        publish=PublishOptions(public=public, regions="us-east-1,us-west-2", allow_dirty=True),
    )
    variables = image.resolve_variables(req, "key", image.GitState("b" * 40, False), now=datetime.now(UTC))
    stage = tmp_path / "stage"
    packer.stage_template(REPO / "packer", stage, modern=False)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    res = subprocess.run(
        ["packer", "validate", "-only=amazon-ebs.aws", *packer.var_args(variables), str(stage)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr


# ---- the account settings that would fail a public build at its end (moto, in-process) ----


@pytest.fixture
def fake_aws(monkeypatch):
    from moto import mock_aws

    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield


def test_account_check_refuses_a_region_that_encrypts_new_volumes_by_default(fake_aws):
    import boto3

    boto3.client("ec2", region_name="us-west-2").enable_ebs_encryption_by_default()
    with pytest.raises(SkyhubError) as err:
        publish.check_account(["us-east-1", "us-west-2"])
    msg = str(err.value)
    assert "us-west-2 encrypts every new EBS volume by default" in msg
    assert "disable-ebs-encryption-by-default --region us-west-2" in msg
    assert "us-east-1 encrypts" not in msg
    assert "nothing was built" in msg


def test_account_check_passes_when_volumes_are_not_encrypted_by_default(fake_aws):
    # control for the refusal above. moto has no block-public-access call: that probe becomes a warning
    # (the refusal for block-new-sharing is therefore not exercised here).
    warnings = publish.check_account(["us-east-1", "us-west-2"])
    assert [w.split(":")[0] for w in warnings] == ["us-east-1", "us-west-2"]
    assert all("block-public-access" in w for w in warnings)
