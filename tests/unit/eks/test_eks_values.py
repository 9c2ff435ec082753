"""Parity: the Z2JH values rendered from the example inventories carry each hub setting with its meaning."""

from __future__ import annotations

import copy
import sys
import types
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from traitlets.config import Config

from skyhub import vendor
from skyhub.eks import Z2JH_CHART_VERSION, values
from skyhub.eks.inventory import load_vars

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "inventories" / "examples"
INVENTORIES = ("local-demo", "github-team", "oidc-datasets")


def render(name: str, **overrides: Any) -> values.Rendered:
    return values.render({**load_vars(EXAMPLES / name), **overrides})


@pytest.fixture(scope="module")
def demo() -> values.Rendered:
    return render("local-demo")


@pytest.fixture(scope="module")
def team() -> values.Rendered:
    return render("github-team", eks_ecr_registry="123456789012.dkr.ecr.us-east-1.amazonaws.com")


@pytest.fixture(scope="module")
def oidc() -> values.Rendered:
    return render("oidc-datasets")


# --- schema ---------------------------------------------------------------------------------------------
# The real chart's values.schema.yaml (Zero to JupyterHub 4.4.0, vendored beside the repository). Helm
# validates the chart's own values.yaml with the user's values merged over it, so the tests do the same.

SCHEMA = yaml.safe_load(vendor.vendor_path("z2jh-schema").read_text())
CHART_DEFAULTS = yaml.safe_load(vendor.vendor_path("z2jh-values").read_text())


def merged(over: dict[str, Any], base: dict[str, Any] = CHART_DEFAULTS) -> dict[str, Any]:
    """Helm's merge of user values over the chart's: maps merge key by key, anything else replaces."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(value, out[key])
        else:
            out[key] = copy.deepcopy(value)
    return out


def chart_validate(vals: dict[str, Any]) -> None:
    jsonschema.Draft7Validator(SCHEMA).validate(merged(vals))


def test_the_vendored_chart_is_the_pinned_version() -> None:
    assert Z2JH_CHART_VERSION == "4.4.0"
    assert "z2jh-4.4.0" in str(vendor.vendor_path("z2jh-schema"))
    # control: the chart's own defaults pass its schema, so a failure below is about skyhub's values
    chart_validate({})


@pytest.mark.parametrize("name", INVENTORIES)
def test_values_respect_the_chart_schema(name: str) -> None:
    chart_validate(render(name).values)


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        (("singleuser", "memoryLimit"), "2G"),  # unknown key where the chart forbids extras
        (("singleuser", "cpu", "limit"), "1"),  # a string where the chart wants a number
        (("hub", "config", "authenticator"), {}),  # hub.config keys must be class names
        (("proxy", "https", "type"), "acme"),
        (("cull", "timeout"), "3600"),
    ],
)
def test_the_chart_schema_rejects_a_broken_value(demo: values.Rendered, path: tuple, bad: Any) -> None:
    # control for the test above: the same values with one setting broken fail the real schema
    vals = copy.deepcopy(demo.values)
    node = vals
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = bad
    with pytest.raises(jsonschema.ValidationError):
        chart_validate(vals)


# --- authentication and admins ------------------------------------------------------------------------


def test_firstuse(demo: values.Rendered) -> None:
    cfg = demo.values["hub"]["config"]
    assert cfg["JupyterHub"]["authenticator_class"] == "firstuseauthenticator"
    assert cfg["FirstUseAuthenticator"] == {
        "create_users": True,
        "min_password_length": 10,
        "allow_all": True,
    }
    assert demo.entry("tljh_authenticator").status == values.CHANGED  # passwords are not carried


def test_github(team: values.Rendered) -> None:
    cfg = team.values["hub"]["config"]
    assert cfg["JupyterHub"]["authenticator_class"] == "github"
    gh = cfg["GitHubOAuthenticator"]
    assert gh["client_id"] == "Iv1.0123456789abcdef"
    assert gh["client_secret"] == "{{ vault_github_client_secret }}"
    assert gh["allowed_organizations"] == ["my-observatory"]
    assert gh["allowed_users"] == ["guest-astronomer"]
    assert gh["scope"] == ["read:org"]
    assert gh["oauth_callback_url"] == "https://hub.example.org/hub/oauth_callback"
    assert team.entry("tljh_github_client_secret").hub_value == values.SECRET


def test_oidc(oidc: values.Rendered) -> None:
    cfg = oidc.values["hub"]["config"]
    assert cfg["JupyterHub"]["authenticator_class"] == "generic-oauth"
    g = cfg["GenericOAuthenticator"]
    assert g["authorize_url"] == "https://sso.example.edu/oauth2/authorize"
    assert g["token_url"] == "https://sso.example.edu/oauth2/token"
    assert g["userdata_url"] == "https://sso.example.edu/oauth2/userinfo"
    assert g["username_claim"] == "preferred_username"
    assert g["scope"] == ["openid", "profile", "email", "groups"]
    assert g["allowed_users"] == ["visitor1"]
    assert g["allowed_groups"] == ["astro-staff", "astro-students"]
    assert g["claim_groups_key"] == "groups"
    assert g["manage_groups"] is True  # groups drive the per-group limits, as on the VM
    assert g["oauth_callback_url"] == "https://jupyter.example.edu/hub/oauth_callback"


@pytest.mark.parametrize(("kind", "name"), [("github", "github-team"), ("oidc", "oidc-datasets")])
def test_auth_matches_the_tljh_role(kind: str, name: str) -> None:
    """The chart's hub gets what the tljh role writes into config.yaml for the VM hub, key for key and value
    for value: both come from the hub plugin's mapping (plugin/tljh_skyhub/auth.py)."""
    sys.path.insert(0, str(ROOT / "roles" / "tljh" / "filter_plugins"))
    try:
        import tljh_auth
    finally:
        sys.path.pop(0)
    inventory = load_vars(EXAMPLES / name)
    rendered = render(name)
    role_vars = {**yaml.safe_load((ROOT / "roles/tljh/defaults/main.yml").read_text()), **inventory}
    section = tljh_auth.tljh_auth_section(
        kind, role_vars, values.callback_url(values.effective_vars(inventory))
    )
    cls = rendered.values["hub"]["config"]["JupyterHub"]["authenticator_class"]
    assert cls == {"github": "github", "oidc": "generic-oauth"}[kind]
    assert section == {
        "type": tljh_auth.auth.CLASSES[kind][0],
        **{k: v for k, v in section.items() if k != "type"},
    }
    (class_name,) = [k for k in section if k != "type"]
    assert rendered.values["hub"]["config"][class_name] == section[class_name]


@pytest.mark.parametrize(("name", "admins"), [("local-demo", ["admin"]), ("github-team", ["alice", "bob"])])
def test_admins(name: str, admins: list[str]) -> None:
    assert render(name).values["hub"]["config"]["Authenticator"]["admin_users"] == admins


# --- proxy, culler, spawn limit -------------------------------------------------------------------------


def test_https_letsencrypt(team: values.Rendered) -> None:
    assert team.values["proxy"]["https"] == {
        "enabled": True,
        "type": "letsencrypt",
        "hosts": ["hub.example.org"],
        "letsencrypt": {"contactEmail": "admin@example.org"},
    }


def test_http_only_without_domains(demo: values.Rendered) -> None:
    assert demo.values["proxy"]["https"] == {"enabled": False}


def test_culler(team: values.Rendered, demo: values.Rendered) -> None:
    assert team.values["cull"] == {
        "enabled": True,
        "users": False,
        "timeout": 7200,
        "every": 600,
        "maxAge": 86400,
    }
    assert demo.values["cull"]["timeout"] == 3600 and demo.values["cull"]["every"] == 300
    off = values.render({"tljh_culler_enabled": False})
    assert off.values["cull"]["enabled"] is False


def test_concurrent_spawn_limit(team: values.Rendered, oidc: values.Rendered) -> None:
    assert team.values["hub"]["concurrentSpawnLimit"] == 10
    assert oidc.values["hub"]["concurrentSpawnLimit"] == 30


# --- images ---------------------------------------------------------------------------------------------


def test_images_become_profiles_with_the_default_marked(team: values.Rendered) -> None:
    profiles = team.values["singleuser"]["profileList"]
    reg = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    assert [p["slug"] for p in profiles] == ["astro", "minimal"]
    assert [p.get("default", False) for p in profiles] == [False, True]  # tljh_spawner_default_image: minimal
    assert profiles[0]["kubespawner_override"] == {"image": f"{reg}/skyhub/astro:2026.11.0"}
    assert profiles[1]["kubespawner_override"] == {"image": f"{reg}/skyhub/minimal:2026.11.0"}
    assert team.values["singleuser"]["image"] == {"name": f"{reg}/skyhub/minimal", "tag": "2026.11.0"}


def test_image_outside_the_science_images_is_kept_and_flagged() -> None:
    r = values.render(
        {
            "tljh_spawner_images": [{"name": "r", "image": "example.org/r-notebook:4.4", "description": "R"}],
            "tljh_spawner_default_image": "r",
        }
    )
    assert (
        r.values["singleuser"]["profileList"][0]["kubespawner_override"]["image"]
        == "example.org/r-notebook:4.4"
    )
    assert r.entry("tljh_spawner_images[r]").status == values.CHANGED


# --- limits ---------------------------------------------------------------------------------------------


def test_default_limits(demo: values.Rendered, team: values.Rendered) -> None:
    assert demo.values["singleuser"]["memory"]["limit"] == "2G"
    assert demo.values["singleuser"]["cpu"]["limit"] == 1.0
    assert team.values["singleuser"]["memory"]["limit"] == "4G"
    assert team.values["singleuser"]["cpu"]["limit"] == 2.0


def test_group_and_user_limits_are_carried(oidc: values.Rendered) -> None:
    limits = oidc.values["custom"]["skyhub"]["limits"]
    assert limits["groups"]["astro-staff"] == {"mem_limit": "8G", "cpu_limit": 4.0}
    assert limits["users"]["carol"] == {"mem_limit": "32G", "cpu_limit": 8.0}
    assert "10-skyhub-limits" in oidc.values["hub"]["extraConfig"]
    assert oidc.entry("tljh_spawner_group_limits").status == values.CARRIED


class _Group:
    def __init__(self, name: str) -> None:
        self.name = name


class _Spawner:
    """The attributes the hook reads and writes on a KubeSpawner."""

    def __init__(self, user: str, groups: list[str], mem_guarantee: str = "1G", cpu_guarantee: float = 0.25):
        self.user = types.SimpleNamespace(name=user, groups=[_Group(g) for g in groups])
        self.mem_limit, self.cpu_limit = None, None
        self.mem_guarantee, self.cpu_guarantee = mem_guarantee, cpu_guarantee
        self.storage_capacity = None


def _load_hook(rendered: values.Rendered, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Config:
    """Run the extraConfig snippet as the chart's hub would: z2jh.get_config serving custom.*, and the
    settings module from hub.extraFiles at its mount path (here under tmp_path)."""
    custom = rendered.values["custom"]
    z2jh = types.ModuleType("z2jh")
    z2jh.get_config = lambda key, default=None: (
        custom[key.split(".", 1)[1]] if key == "custom.skyhub" else default
    )
    monkeypatch.setitem(sys.modules, "z2jh", z2jh)
    mounted = rendered.values["hub"]["extraFiles"]["skyhub-settings"]
    local = tmp_path / mounted["mountPath"].lstrip("/")
    local.parent.mkdir(parents=True)
    local.write_text(mounted["stringData"])
    hook = rendered.values["hub"]["extraConfig"]["10-skyhub-limits"]
    assert mounted["mountPath"] in hook
    c = Config()
    exec(compile(hook.replace(mounted["mountPath"], str(local)), "extraConfig", "exec"), {"c": c})
    return c


def test_the_hook_uses_the_hub_plugins_settings_module(oidc: values.Rendered) -> None:
    # one copy of the size and precedence rules: the file the hub pod gets is the plugin's module
    plugin_module = ROOT / "plugin" / "tljh_skyhub" / "settings.py"
    assert oidc.values["hub"]["extraFiles"]["skyhub-settings"]["stringData"] == plugin_module.read_text()
    hook = oidc.values["hub"]["extraConfig"]["10-skyhub-limits"]
    assert "_settings.effective_limits(" in hook and "_settings.pick(" in hook
    assert "max(" not in hook  # no precedence rule of its own


@pytest.mark.parametrize(
    ("user", "groups", "mem", "cpu", "size"),
    [
        ("dave", [], "2G", 1.0, "5Gi"),  # default
        ("erin", ["astro-students"], "3G", 1.0, "5Gi"),  # group mem only, default cpu
        ("frank", ["astro-students", "astro-staff"], "8G", 4.0, "50Gi"),  # largest of the groups
        ("carol", ["astro-students"], "32G", 8.0, "200Gi"),  # user override beats groups
    ],
)
def test_limits_hook_precedence(
    oidc: values.Rendered,
    monkeypatch: pytest.MonkeyPatch,
    user: str,
    groups: list,
    mem: str,
    cpu: float,
    size: str,
    tmp_path: Path,
) -> None:
    c = _load_hook(oidc, monkeypatch, tmp_path)
    spawner = _Spawner(user, groups)
    c.KubeSpawner.pre_spawn_hook(spawner)
    assert (spawner.mem_limit, spawner.cpu_limit, spawner.storage_capacity) == (mem, cpu, size)


def test_limits_hook_caps_guarantees_below_small_limits(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    r = values.render({"tljh_spawner_user_limits": {"tiny": {"mem_limit": "512M", "cpu_limit": 0.1}}})
    c = _load_hook(r, monkeypatch, tmp_path)
    spawner = _Spawner("tiny", [], mem_guarantee="1G", cpu_guarantee=0.25)
    c.KubeSpawner.pre_spawn_hook(spawner)
    assert spawner.mem_guarantee == "512M" and spawner.cpu_guarantee == 0.1


# --- storage and datasets ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "k8s"), [("10G", "10Gi"), ("512M", "512Mi"), ("1.5T", "1.5Ti"), ("20g", "20Gi")]
)
def test_quota_sizes_keep_binary_units(size: str, k8s: str) -> None:
    assert values.k8s_size(size) == k8s


def test_quota_becomes_the_home_volume_size(team: values.Rendered, oidc: values.Rendered) -> None:
    st = team.values["singleuser"]["storage"]
    assert st["type"] == "dynamic" and st["capacity"] == "20Gi"
    assert st["homeMountPath"] == "/home/jovyan"
    assert st["dynamic"] == {"storageClass": "skyhub-gp3"}
    assert oidc.values["custom"]["skyhub"]["storage"]["groups"] == {"astro-staff": {"size": "50Gi"}}
    assert oidc.values["custom"]["skyhub"]["storage"]["users"] == {"carol": {"size": "200Gi"}}


def test_datasets_are_read_only_volumes_at_data(oidc: values.Rendered) -> None:
    st = oidc.values["singleuser"]["storage"]
    assert st["extraVolumeMounts"] == [
        {"name": "dataset-hst", "mountPath": "/data/hst", "readOnly": True},
        {"name": "dataset-survey", "mountPath": "/data/survey", "readOnly": True},
    ]
    assert st["extraVolumes"][1] == {
        "name": "dataset-survey",
        "persistentVolumeClaim": {"claimName": "skyhub-dataset-survey", "readOnly": True},
    }


def test_dataset_volumes_are_mountpoint_csi_with_the_same_bucket_and_prefix(oidc: values.Rendered) -> None:
    pvs = {m["metadata"]["name"]: m for m in oidc.manifests if m["kind"] == "PersistentVolume"}
    pvcs = {m["metadata"]["name"]: m for m in oidc.manifests if m["kind"] == "PersistentVolumeClaim"}
    assert set(pvs) == set(pvcs) == {"skyhub-dataset-hst", "skyhub-dataset-survey"}
    hst = pvs["skyhub-dataset-hst"]["spec"]
    assert hst["csi"]["driver"] == "s3.csi.aws.com"
    assert hst["csi"]["volumeAttributes"] == {"bucketName": "stpubdata"}
    assert hst["accessModes"] == ["ReadOnlyMany"]
    assert "read-only" in hst["mountOptions"] and "prefix hst/public/" in hst["mountOptions"]
    assert "no-sign-request" in hst["mountOptions"]  # anonymous: true
    assert "uid=1000" in hst["mountOptions"] and "gid=1000" in hst["mountOptions"]
    survey = pvs["skyhub-dataset-survey"]["spec"]["mountOptions"]
    assert "no-sign-request" not in survey and "region eu-west-1" in survey
    assert not any(o.startswith("prefix") for o in survey)
    assert pvcs["skyhub-dataset-hst"]["spec"]["volumeName"] == "skyhub-dataset-hst"
    assert pvcs["skyhub-dataset-hst"]["metadata"]["namespace"] == "skyhub"


def test_dataset_endpoint_url_is_carried() -> None:
    r = values.render(
        {"dataset_mount_datasets": [{"name": "x", "bucket": "b", "endpoint_url": "https://s3.example"}]}
    )
    (pv,) = [m for m in r.manifests if m["kind"] == "PersistentVolume"]
    assert "endpoint-url https://s3.example" in pv["spec"]["mountOptions"]


def test_home_storage_class_keeps_volumes_and_tags_them_for_teardown(team: values.Rendered) -> None:
    (sc,) = [m for m in team.manifests if m["kind"] == "StorageClass"]
    assert sc["metadata"]["name"] == team.values["singleuser"]["storage"]["dynamic"]["storageClass"]
    assert sc["provisioner"] == "ebs.csi.aws.com"
    assert sc["reclaimPolicy"] == "Retain" and sc["allowVolumeExpansion"] is True
    tags = {v for k, v in sc["parameters"].items() if k.startswith("tagSpecification_")}
    assert {"skyhub:cluster=skyhub", "skyhub:volume=user-home", "team=my-observatory"} <= tags


def test_metadata_endpoint_blocked(demo: values.Rendered) -> None:
    assert demo.values["singleuser"]["cloudMetadata"] == {"blockWithIptables": True, "ip": "169.254.169.254"}


def test_user_pods_run_as_the_vm_container_user(demo: values.Rendered) -> None:
    su = demo.values["singleuser"]
    assert (su["uid"], su["fsGid"], su["defaultUrl"], su["allowPrivilegeEscalation"]) == (
        1000,
        100,
        "/lab",
        False,
    )


# --- the parity report ------------------------------------------------------------------------------------


def test_report_lists_unsupported_settings_loudly(team: values.Rendered) -> None:
    loud = {e.setting for e in team.entries(values.NOT_CARRIED)}
    assert {"quotas_warn_percent", "backups_enabled", "dataset_mount_datasets[hst].cache_size_mb"} <= loud
    assert "EBS" in team.entry("backups_enabled").note
    assert "tljh_spawner_pids_limit" in loud and "tljh_skel_dir" in loud


def test_report_covers_every_contract_variable_the_inventory_sets() -> None:
    """Every hub variable set in an example inventory has a report entry (nothing silently dropped)."""
    not_reported = {"tljh_firstuse_create_users", "science_images_list"}  # rendered into values / ECR
    for name in INVENTORIES:
        hub_vars = load_vars(EXAMPLES / name)
        r = values.render(hub_vars)
        reported = {e.setting.split("[")[0] for e in r.report}
        secrets_and_inputs = {
            "backups_s3_bucket",
            "backups_s3_prefix",
            "backups_s3_region",
            "backups_password",
        }
        secrets_and_inputs |= {f"backups_keep_{k}" for k in ("daily", "weekly", "monthly")}
        missing = (
            set(hub_vars)
            - reported
            - not_reported
            - (secrets_and_inputs if hub_vars.get("backups_enabled") else set())
        )
        assert not missing, f"{name}: no parity entry for {sorted(missing)}"


def test_tags_reported(team: values.Rendered) -> None:
    assert team.entry("skyhub_tags").eks_value == {
        "project": "skyhub",
        "team": "my-observatory",
        "cost-center": "4711",
    }


# --- defaults stay equal to the roles' -------------------------------------------------------------------


@pytest.mark.parametrize("role", ["tljh", "dataset_mount", "science_images", "quotas", "backups"])
def test_hub_defaults_match_the_roles(role: str) -> None:
    path = ROOT / "roles" / role / "defaults" / "main.yml"
    if not path.exists():
        pytest.skip(f"roles/{role} not in this tree yet; contract defaults used")
    defaults = yaml.safe_load(path.read_text())
    for key, value in values.HUB_DEFAULTS.items():
        if key in defaults and key not in (
            "tljh_spawner_images",
            "science_images_list",
            "dataset_mount_datasets",
        ):
            assert defaults[key] == value, key
    if role == "tljh":
        assert [i["image"] for i in defaults["tljh_spawner_images"]] == [
            i["image"] for i in values.HUB_DEFAULTS["tljh_spawner_images"]
        ]


def test_eks_defaults_match_the_role() -> None:
    defaults = yaml.safe_load((ROOT / "roles/eks/defaults/main.yml").read_text())
    for key, value in values.EKS_DEFAULTS.items():
        assert defaults[key] == value, key
