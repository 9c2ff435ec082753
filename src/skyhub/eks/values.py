"""Render Zero to JupyterHub values from the single-VM hub's variables, with a parity report.

`render(hub_vars)` takes the variables of a hub inventory (the shared contract names: tljh_*,
dataset_mount_*, quotas_*, backups_*, science_images_list, skyhub_tags, plus the eks_* settings) and
returns the chart values, the Kubernetes manifests the values refer to (dataset volumes), and one parity
entry per hub setting saying what it becomes on EKS — or loudly that it has no equivalent.

Pure: no I/O, no AWS. Written for chart 4.4.0 (see skyhub.eks.Z2JH_CHART_VERSION).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tljh_skyhub import auth, settings

CARRIED = "carried"
CHANGED = "changed"
NOT_CARRIED = "not-carried"
NOT_USED = "not-used"
SECRET = "(secret)"

# The hub roles' defaults for the contract variables (kept equal to roles/*/defaults by a unit test), so a
# sparse inventory renders the same hub the VM roles would build.
HUB_DEFAULTS: dict[str, Any] = {
    "tljh_admin_users": [],
    "tljh_authenticator": "firstuse",
    "tljh_firstuse_create_users": False,
    "tljh_firstuse_min_password_length": 10,
    "tljh_github_client_id": "",
    "tljh_github_client_secret": "",
    "tljh_github_allowed_organizations": [],
    "tljh_github_allowed_users": [],
    "tljh_oidc_client_id": "",
    "tljh_oidc_client_secret": "",
    "tljh_oidc_authorize_url": "",
    "tljh_oidc_token_url": "",
    "tljh_oidc_userdata_url": "",
    "tljh_oidc_username_claim": "preferred_username",
    "tljh_oidc_scopes": ["openid", "profile", "email"],
    "tljh_oidc_allowed_users": [],
    "tljh_oidc_allowed_groups": [],
    "tljh_oidc_groups_claim": "groups",
    "tljh_oauth_callback_url": "",
    "tljh_https_domains": [],
    "tljh_letsencrypt_email": "",
    "tljh_culler_enabled": True,
    "tljh_culler_timeout": 3600,
    "tljh_culler_every": 300,
    "tljh_culler_max_age": 0,
    "tljh_concurrent_spawn_limit": 20,
    "tljh_spawner_images": [
        {"name": "astro", "image": "skyhub/astro:2026.11.0", "description": "Astronomy"},
        {"name": "minimal", "image": "skyhub/minimal:2026.11.0", "description": "Minimal: JupyterLab only"},
    ],
    "tljh_spawner_default_image": "astro",
    "tljh_spawner_mem_limit": "2G",
    "tljh_spawner_cpu_limit": 1.0,
    "tljh_spawner_group_limits": {},
    "tljh_spawner_user_limits": {},
    "tljh_spawner_pids_limit": 1024,
    "tljh_spawner_start_timeout": 120,
    "tljh_spawner_http_timeout": 120,
    "tljh_skel_dir": "/srv/skyhub/skel",
    "tljh_container_uid": 1000,
    "tljh_container_gid": 100,
    "tljh_container_home": "/home/jovyan",
    "dataset_mount_datasets": [],
    "dataset_mount_container_root": "/data",
    "dataset_mount_uid": 1000,
    "dataset_mount_gid": 1000,
    "quotas_default_size": "10G",
    "quotas_user_sizes": {},
    "quotas_group_sizes": {},
    "quotas_warn_percent": 90,
    "backups_enabled": False,
    "backups_s3_bucket": "",
    "backups_keep_daily": 7,
    "backups_keep_weekly": 4,
    "backups_keep_monthly": 6,
    "backups_schedule": "daily",
    "science_images_list": [
        {"name": "astro", "version": "2026.11.0", "description": "Astronomy"},
        {"name": "minimal", "version": "2026.11.0", "description": "Minimal: JupyterLab only"},
    ],
    "skyhub_tags": {},
}

# EKS-only settings (the eks role's defaults; equal to roles/eks/defaults by a unit test).
EKS_DEFAULTS: dict[str, Any] = {
    "eks_cluster_name": "skyhub",
    "eks_namespace": "skyhub",
    "eks_ecr_registry": "",
    "eks_ecr_repository_prefix": "skyhub",
    "eks_storage_class": "skyhub-gp3",
    "eks_singleuser_mem_guarantee": "1G",
    "eks_singleuser_cpu_guarantee": 0.25,
}

_DATASET_DEFAULTS: dict[str, Any] = {
    "prefix": "",
    "region": "us-east-1",
    "endpoint_url": "",
    "anonymous": True,
    "client": "s3fs",
    "cache_size_mb": 0,
    "options": [],
}
_PLACEHOLDER_REGISTRY = "ACCOUNT.dkr.ecr.REGION.amazonaws.com"
_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([KMGT])$")
# The Mountpoint for Amazon S3 CSI driver (static provisioning: one PV per dataset).
MOUNTPOINT_CSI_DRIVER = "s3.csi.aws.com"
DATASET_PV_CAPACITY = "1200Gi"  # required by Kubernetes, ignored by the driver


@dataclass(frozen=True)
class ParityEntry:
    """One hub setting and what it becomes on EKS."""

    setting: str
    hub_value: Any
    eks_key: str
    eks_value: Any
    status: str
    note: str = ""


@dataclass
class Rendered:
    values: dict[str, Any]
    manifests: list[dict[str, Any]]
    report: list[ParityEntry] = field(default_factory=list)

    def entries(self, status: str) -> list[ParityEntry]:
        return [e for e in self.report if e.status == status]

    def entry(self, setting: str) -> ParityEntry:
        for e in self.report:
            if e.setting == setting:
                return e
        raise KeyError(setting)


def effective_vars(hub_vars: dict[str, Any]) -> dict[str, Any]:
    """The inventory's variables over the hub and eks defaults."""
    merged = copy.deepcopy(HUB_DEFAULTS) | copy.deepcopy(EKS_DEFAULTS)
    merged.update(copy.deepcopy(hub_vars))
    return merged


def k8s_size(size: str) -> str:
    """XFS quota / Docker sizes are binary (G = GiB): "10G" -> "10Gi" (Kubernetes "G" means 10^9)."""
    match = _SIZE.match(str(size).strip().upper())
    if not match:
        raise ValueError(f'size "{size}" is not like "10G" or "512M"')
    return f"{match.group(1)}{match.group(2)}i"


def callback_url(v: dict[str, Any]) -> str:
    """The OAuth callback, derived the way the tljh role derives it."""
    if v["tljh_oauth_callback_url"]:
        return v["tljh_oauth_callback_url"]
    if v["tljh_https_domains"]:
        return f"https://{v['tljh_https_domains'][0]}/hub/oauth_callback"
    return ""


def render(hub_vars: dict[str, Any]) -> Rendered:
    """Z2JH values + manifests + parity report for one hub inventory."""
    v = effective_vars(hub_vars)
    out = Rendered(values=_base_values(v), manifests=[namespace_manifest(v), storage_class_manifest(v)])
    for step in (
        _auth,
        _admins,
        _https,
        _culler,
        _spawn_limit,
        _images,
        _limits,
        _storage,
        _datasets,
        _metadata,
        _tags,
        _backups,
        _unsupported,
    ):
        step(v, out)
    return out


def namespace_manifest(v: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": v["eks_namespace"]}}


def storage_class_manifest(v: dict[str, Any]) -> dict[str, Any]:
    """gp3 home volumes: encrypted, expandable, kept when a claim is deleted, tagged for teardown/cost."""
    tags = {"skyhub:cluster": v["eks_cluster_name"], "skyhub:volume": "user-home", **v["skyhub_tags"]}
    params = {"type": "gp3", "encrypted": "true", "csi.storage.k8s.io/fstype": "ext4"}
    for i, (key, value) in enumerate(sorted(tags.items()), start=1):
        params[f"tagSpecification_{i}"] = f"{key}={value}"
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": v["eks_storage_class"]},
        "provisioner": "ebs.csi.aws.com",
        "reclaimPolicy": "Retain",
        "allowVolumeExpansion": True,
        "volumeBindingMode": "WaitForFirstConsumer",
        "parameters": params,
    }


def _base_values(v: dict[str, Any]) -> dict[str, Any]:
    return {
        "hub": {"config": {"JupyterHub": {}, "Authenticator": {}}, "extraConfig": {}},
        "proxy": {"https": {"enabled": False}},
        "singleuser": {
            "uid": int(v["tljh_container_uid"]),
            "fsGid": int(v["tljh_container_gid"]),
            "defaultUrl": "/lab",
            "startTimeout": int(v["tljh_spawner_start_timeout"]),
            "allowPrivilegeEscalation": False,
        },
        "scheduling": {
            "userScheduler": {"enabled": True},
            "userPods": {"nodeAffinity": {"matchNodePurpose": "require"}},
            "corePods": {"nodeAffinity": {"matchNodePurpose": "require"}},
        },
        "cull": {"enabled": True},
        "custom": {"skyhub": {}},
    }


def _add(out: Rendered, *args: Any, **kwargs: Any) -> None:
    out.report.append(ParityEntry(*args, **kwargs))


# --- authentication -------------------------------------------------------------------------------------


def _auth(v: dict[str, Any], out: Rendered) -> None:
    """The hub's authenticator: the single-VM hub's mapping (plugin/tljh_skyhub/auth.py) of the same
    tljh_<kind>_* settings, under the chart's hub.config."""
    kind = v["tljh_authenticator"]
    if kind not in auth.CLASSES:
        raise ValueError(f"tljh_authenticator must be one of {', '.join(auth.CLASSES)} (got {kind!r})")
    config = out.values["hub"]["config"]
    config["JupyterHub"]["authenticator_class"] = auth.CLASSES[kind][1]
    cls = auth.class_name(kind)
    config[cls] = auth.traits(kind, auth.role_settings(kind, v), callback_url(v))
    if kind == "firstuse":
        # the chart's hub allows no one unless told (TLJH's config does this for the VM hub)
        config[cls]["allow_all"] = True
        note = "passwords live in the hub database: users set them again on EKS (first login)"
        _add(
            out,
            "tljh_authenticator",
            kind,
            "hub.config.JupyterHub.authenticator_class",
            auth.CLASSES[kind][1],
            CHANGED,
            note,
        )
        return
    shown = tuple(key for key in auth.SETTINGS[kind] if key != "client_secret")
    _auth_entries(out, kind, cls, v, shown)


def _auth_entries(out: Rendered, kind: str, cls: str, v: dict[str, Any], keys: tuple[str, ...]) -> None:
    _add(
        out,
        "tljh_authenticator",
        kind,
        "hub.config.JupyterHub.authenticator_class",
        out.values["hub"]["config"]["JupyterHub"]["authenticator_class"],
        CARRIED,
    )
    for key in keys:
        name = f"tljh_{kind}_{key}"
        target = auth.SETTINGS[kind][key]
        _add(
            out,
            name,
            v[name],
            f"hub.config.{cls}.{target}",
            out.values["hub"]["config"][cls][target],
            CARRIED,
        )
    _add(out, f"tljh_{kind}_client_secret", SECRET, f"hub.config.{cls}.client_secret", SECRET, CARRIED)
    url = out.values["hub"]["config"][cls]["oauth_callback_url"]
    _add(
        out,
        "tljh_oauth_callback_url",
        v["tljh_oauth_callback_url"] or "(derived)",
        f"hub.config.{cls}.oauth_callback_url",
        url,
        CARRIED,
        "the OAuth app's callback must point at the EKS hub's domain",
    )


def _admins(v: dict[str, Any], out: Rendered) -> None:
    admins = list(v["tljh_admin_users"])
    out.values["hub"]["config"]["Authenticator"]["admin_users"] = admins
    _add(out, "tljh_admin_users", admins, "hub.config.Authenticator.admin_users", admins, CARRIED)


# --- proxy, culler, spawn limit ---------------------------------------------------------------------------


def _https(v: dict[str, Any], out: Rendered) -> None:
    domains = list(v["tljh_https_domains"])
    if not domains:
        out.values["proxy"]["https"] = {"enabled": False}
        _add(out, "tljh_https_domains", [], "proxy.https.enabled", False, CARRIED, "plain HTTP")
        return
    out.values["proxy"]["https"] = {
        "enabled": True,
        "type": "letsencrypt",
        "hosts": domains,
        "letsencrypt": {"contactEmail": v["tljh_letsencrypt_email"]},
    }
    _add(
        out,
        "tljh_https_domains",
        domains,
        "proxy.https.hosts",
        domains,
        CARRIED,
        "point the domain's DNS at the proxy-public load balancer before the first start",
    )
    _add(
        out,
        "tljh_letsencrypt_email",
        v["tljh_letsencrypt_email"],
        "proxy.https.letsencrypt.contactEmail",
        v["tljh_letsencrypt_email"],
        CARRIED,
    )


def _culler(v: dict[str, Any], out: Rendered) -> None:
    cull = out.values["cull"]
    cull["enabled"] = bool(v["tljh_culler_enabled"])
    cull["users"] = False
    for name, key in (("timeout", "timeout"), ("every", "every"), ("max_age", "maxAge")):
        cull[key] = int(v[f"tljh_culler_{name}"])
        _add(out, f"tljh_culler_{name}", v[f"tljh_culler_{name}"], f"cull.{key}", cull[key], CARRIED)
    _add(out, "tljh_culler_enabled", v["tljh_culler_enabled"], "cull.enabled", cull["enabled"], CARRIED)


def _spawn_limit(v: dict[str, Any], out: Rendered) -> None:
    limit = int(v["tljh_concurrent_spawn_limit"])
    out.values["hub"]["concurrentSpawnLimit"] = limit
    _add(
        out,
        "tljh_concurrent_spawn_limit",
        limit,
        "hub.concurrentSpawnLimit",
        limit,
        CARRIED,
        "0 = unlimited on both",
    )
    timeout = int(v["tljh_spawner_http_timeout"])
    out.values["hub"]["config"]["KubeSpawner"] = {"http_timeout": timeout}
    _add(out, "tljh_spawner_http_timeout", timeout, "hub.config.KubeSpawner.http_timeout", timeout, CARRIED)
    start = out.values["singleuser"]["startTimeout"]
    _add(
        out,
        "tljh_spawner_start_timeout",
        start,
        "singleuser.startTimeout",
        start,
        CHANGED,
        "also covers the image pull and the EBS volume attach on a fresh node: consider raising it",
    )


# --- images ----------------------------------------------------------------------------------------------


def ecr_image(ref: str, v: dict[str, Any]) -> tuple[str, bool]:
    """(the image ref the nodes pull, whether it is one of the science images pushed to ECR)."""
    repo, _, tag = ref.rpartition(":")
    prefix = v["eks_ecr_repository_prefix"]
    built = {f"skyhub/{img['name']}": img["name"] for img in v["science_images_list"]}
    if repo not in built:
        return ref, False
    registry = v["eks_ecr_registry"] or _PLACEHOLDER_REGISTRY
    return f"{registry}/{prefix}/{built[repo]}:{tag}", True


def _images(v: dict[str, Any], out: Rendered) -> None:
    profiles = []
    default = v["tljh_spawner_default_image"]
    for img in v["tljh_spawner_images"]:
        ref, pushed = ecr_image(img["image"], v)
        profile = {
            "display_name": img["name"],
            "slug": img["name"],
            "description": img.get("description", ""),
            "kubespawner_override": {"image": ref},
        }
        if img["name"] == default:
            profile["default"] = True
            name, _, tag = ref.rpartition(":")
            out.values["singleuser"]["image"] = {"name": name, "tag": tag}
        profiles.append(profile)
        note = (
            "pushed to ECR with the same tag" if pushed else "not a skyhub science image: nodes must reach it"
        )
        _add(
            out,
            f"tljh_spawner_images[{img['name']}]",
            img["image"],
            "singleuser.profileList[].kubespawner_override.image",
            ref,
            CARRIED if pushed else CHANGED,
            note,
        )
    out.values["singleuser"]["profileList"] = profiles
    _add(out, "tljh_spawner_default_image", default, "singleuser.profileList[].default", default, CARRIED)


# --- limits -----------------------------------------------------------------------------------------------

# The single-VM hub's settings module (sizes, limit precedence): the one copy of those rules, mounted into
# the hub pod by hub.extraFiles and loaded by the hook below.
SETTINGS_MODULE = Path(settings.__file__)
SETTINGS_MOUNT = "/usr/local/etc/jupyterhub/skyhub/tljh_skyhub_settings.py"

LIMITS_HOOK = f"""\
# skyhub: per-group and per-user limits and home sizes, with the single-VM hub's precedence
# (user override > the largest of the user's group overrides > default), from its own settings module.
import importlib.util

from z2jh import get_config

_SKYHUB = get_config("custom.skyhub", {{}})
_spec = importlib.util.spec_from_file_location("tljh_skyhub_settings", "{SETTINGS_MOUNT}")
_settings = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_settings)


def _skyhub_bytes(size):
    # a Kubernetes quantity ("5Gi") read as the settings module reads sizes ("5G" = 5 GiB)
    return _settings.to_bytes(str(size).removesuffix("i"))


def _skyhub_pre_spawn(spawner):
    name, groups = spawner.user.name, [g.name for g in spawner.user.groups]
    limits, storage = _SKYHUB["limits"], _SKYHUB["storage"]
    mine = _settings.effective_limits(limits["default"], limits, name, groups)
    mem, cpu = mine["mem_limit"], float(mine["cpu_limit"])
    spawner.mem_limit = mem
    spawner.cpu_limit = cpu
    # a guarantee above the limit would make the pod invalid: cap it
    if spawner.mem_guarantee and _skyhub_bytes(spawner.mem_guarantee) > _skyhub_bytes(mem):
        spawner.mem_guarantee = mem
    if spawner.cpu_guarantee and float(spawner.cpu_guarantee) > cpu:
        spawner.cpu_guarantee = cpu
    # only used when the home volume is first created (KubeSpawner does not resize existing claims)
    spawner.storage_capacity = _settings.pick(
        storage["default"]["size"], storage, name, groups, "size", _skyhub_bytes
    )


c.KubeSpawner.pre_spawn_hook = _skyhub_pre_spawn
"""


def _limits(v: dict[str, Any], out: Rendered) -> None:
    su = out.values["singleuser"]
    mem, cpu = str(v["tljh_spawner_mem_limit"]), float(v["tljh_spawner_cpu_limit"])
    su["memory"] = {"limit": mem, "guarantee": str(v["eks_singleuser_mem_guarantee"])}
    su["cpu"] = {"limit": cpu, "guarantee": float(v["eks_singleuser_cpu_guarantee"])}
    out.values["custom"]["skyhub"]["limits"] = {
        "default": {"mem_limit": mem, "cpu_limit": cpu},
        "groups": copy.deepcopy(v["tljh_spawner_group_limits"]),
        "users": copy.deepcopy(v["tljh_spawner_user_limits"]),
    }
    out.values["hub"]["extraConfig"]["10-skyhub-limits"] = LIMITS_HOOK
    out.values["hub"].setdefault("extraFiles", {})["skyhub-settings"] = {
        "mountPath": SETTINGS_MOUNT,
        "stringData": SETTINGS_MODULE.read_text(),
    }
    _add(
        out,
        "tljh_spawner_mem_limit",
        mem,
        "singleuser.memory.limit",
        mem,
        CARRIED,
        "both read G as GiB (Docker and KubeSpawner)",
    )
    _add(out, "tljh_spawner_cpu_limit", cpu, "singleuser.cpu.limit", cpu, CARRIED)
    for kind in ("group", "user"):
        table = v[f"tljh_spawner_{kind}_limits"]
        _add(
            out,
            f"tljh_spawner_{kind}_limits",
            table,
            f"custom.skyhub.limits.{kind}s + hub.extraConfig",
            table,
            CARRIED if table else NOT_USED,
            "applied by a pre-spawn hook, same precedence",
        )
    _add(
        out,
        "(no VM equivalent)",
        "no reservation (Docker limits only)",
        "singleuser.memory.guarantee",
        su["memory"]["guarantee"],
        CHANGED,
        "EKS reserves this much per user on a node: sets how many users fit (eks_singleuser_mem_guarantee)",
    )


# --- storage ----------------------------------------------------------------------------------------------


def _storage(v: dict[str, Any], out: Rendered) -> None:
    size = k8s_size(v["quotas_default_size"])
    out.values["singleuser"]["storage"] = {
        "type": "dynamic",
        "capacity": size,
        "homeMountPath": v["tljh_container_home"],
        "dynamic": {"storageClass": v["eks_storage_class"]},
    }
    out.values["custom"]["skyhub"]["storage"] = {
        "default": {"size": size},
        "groups": {g: {"size": k8s_size(s)} for g, s in v["quotas_group_sizes"].items()},
        "users": {u: {"size": k8s_size(s)} for u, s in v["quotas_user_sizes"].items()},
    }
    _add(
        out,
        "quotas_default_size",
        v["quotas_default_size"],
        "singleuser.storage.capacity",
        size,
        CHANGED,
        "a quota on a shared volume becomes one EBS volume per user of this size, paid for in full",
    )
    for kind in ("group", "user"):
        table = v[f"quotas_{kind}_sizes"]
        _add(
            out,
            f"quotas_{kind}_sizes",
            table,
            f"custom.skyhub.storage.{kind}s + hub.extraConfig",
            out.values["custom"]["skyhub"]["storage"][f"{kind}s"],
            CHANGED if table else NOT_USED,
            "applies when a user's volume is first created; raising it later means resizing the claim "
            "(the storage class allows expansion)",
        )
    _add(
        out,
        "quotas_warn_percent",
        v["quotas_warn_percent"],
        "",
        None,
        NOT_CARRIED,
        "no quota warnings on EKS: a full volume just fails writes (ENOSPC); watch EBS usage instead",
    )


def _dataset(d: dict[str, Any]) -> dict[str, Any]:
    return {**_DATASET_DEFAULTS, **d}


def dataset_mount_options(d: dict[str, Any], v: dict[str, Any]) -> list[str]:
    """Mountpoint-s3 options with the same meaning as the VM's s3fs mount."""
    opts = [
        "allow-other",
        "read-only",
        f"uid={int(v['dataset_mount_uid'])}",
        f"gid={int(v['dataset_mount_gid'])}",
    ]
    opts.append(f"region {d['region']}")
    if d["prefix"]:
        opts.append(f"prefix {d['prefix']}")
    if d["endpoint_url"]:
        opts.append(f"endpoint-url {d['endpoint_url']}")
    if d["anonymous"]:
        opts.append("no-sign-request")
    return opts


def dataset_manifests(d: dict[str, Any], v: dict[str, Any]) -> list[dict[str, Any]]:
    """A statically provisioned PersistentVolume (Mountpoint CSI) and its claim in the hub namespace."""
    name = f"skyhub-dataset-{d['name']}"
    ns = v["eks_namespace"]
    pv = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "skyhub"}},
        "spec": {
            "capacity": {"storage": DATASET_PV_CAPACITY},
            "accessModes": ["ReadOnlyMany"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "",
            "claimRef": {"namespace": ns, "name": name},
            "mountOptions": dataset_mount_options(d, v),
            "csi": {
                "driver": MOUNTPOINT_CSI_DRIVER,
                "volumeHandle": name,
                "volumeAttributes": {"bucketName": d["bucket"]},
            },
        },
    }
    pvc = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": ns, "labels": {"app.kubernetes.io/part-of": "skyhub"}},
        "spec": {
            "accessModes": ["ReadOnlyMany"],
            "storageClassName": "",
            "volumeName": name,
            "resources": {"requests": {"storage": DATASET_PV_CAPACITY}},
        },
    }
    return [pv, pvc]


def _datasets(v: dict[str, Any], out: Rendered) -> None:
    volumes, mounts = [], []
    root = v["dataset_mount_container_root"].rstrip("/")
    for raw in v["dataset_mount_datasets"]:
        d = _dataset(raw)
        claim = f"skyhub-dataset-{d['name']}"
        volumes.append(
            {"name": f"dataset-{d['name']}", "persistentVolumeClaim": {"claimName": claim, "readOnly": True}}
        )
        path = f"{root}/{d['name']}"
        mounts.append({"name": f"dataset-{d['name']}", "mountPath": path, "readOnly": True})
        out.manifests.extend(dataset_manifests(d, v))
        where = f"s3://{d['bucket']}/{d['prefix']}"
        _add(
            out,
            f"dataset_mount_datasets[{d['name']}]",
            where,
            "singleuser.storage.extraVolumeMounts",
            f"{path} (read-only)",
            CARRIED,
            f"Mountpoint-for-S3 CSI volume {claim}",
        )
        if d["client"] != "mountpoint":
            _add(
                out,
                f"dataset_mount_datasets[{d['name']}].client",
                d["client"],
                "csi driver",
                MOUNTPOINT_CSI_DRIVER,
                CHANGED,
                "s3fs is replaced by Mountpoint for S3: no directory renames/mtimes, sequential reads "
                "are faster",
            )
        if int(d["cache_size_mb"]) > 0:
            _add(
                out,
                f"dataset_mount_datasets[{d['name']}].cache_size_mb",
                d["cache_size_mb"],
                "",
                None,
                NOT_CARRIED,
                "no disk cache on EKS nodes: every read goes to S3",
            )
        if d["options"]:
            _add(
                out,
                f"dataset_mount_datasets[{d['name']}].options",
                d["options"],
                "",
                None,
                NOT_CARRIED,
                "s3fs options have no Mountpoint equivalent",
            )
    su = out.values["singleuser"]["storage"]
    su["extraVolumes"], su["extraVolumeMounts"] = volumes, mounts


def _metadata(v: dict[str, Any], out: Rendered) -> None:
    out.values["singleuser"]["cloudMetadata"] = {"blockWithIptables": True, "ip": "169.254.169.254"}
    _add(
        out,
        "docker_block_metadata",
        True,
        "singleuser.cloudMetadata.blockWithIptables",
        True,
        CARRIED,
        "user pods cannot reach the instance metadata endpoint",
    )


def _tags(v: dict[str, Any], out: Rendered) -> None:
    tags = dict(v["skyhub_tags"])
    _add(
        out,
        "skyhub_tags",
        tags,
        "AWS tags (cluster, node groups, ECR, IAM, EBS volumes)",
        tags,
        CARRIED if tags else NOT_USED,
        "applied by the eks role to every AWS resource it creates",
    )


def _backups(v: dict[str, Any], out: Rendered) -> None:
    if not v["backups_enabled"]:
        _add(out, "backups_enabled", False, "", None, NOT_USED, "no backups on the VM either")
        return
    keep = " ".join(f"{k} {v[f'backups_keep_{k}']}" for k in ("daily", "weekly", "monthly"))
    _add(
        out,
        "backups_enabled",
        True,
        "",
        None,
        NOT_CARRIED,
        "restic to S3 does not run on EKS: snapshot the user EBS volumes instead (AWS Backup or Data "
        f"Lifecycle Manager on the tag skyhub-volume=user-home; keep {keep}). See docs/eks.md",
    )


def _unsupported(v: dict[str, Any], out: Rendered) -> None:
    _add(
        out,
        "tljh_spawner_pids_limit",
        v["tljh_spawner_pids_limit"],
        "",
        None,
        NOT_CARRIED,
        "KubeSpawner has no per-pod process limit (set podPidsLimit in the node group's kubelet config)",
    )
    _add(
        out,
        "tljh_skel_dir",
        v["tljh_skel_dir"],
        "",
        None,
        NOT_CARRIED,
        "no host directory to copy from: bake demo content into the image or a postStart hook",
    )
    _add(
        out, "tljh_container_uid", v["tljh_container_uid"], "singleuser.uid", v["tljh_container_uid"], CARRIED
    )
    _add(
        out,
        "tljh_version",
        "JupyterHub 5.5.4 (TLJH 2.0.0)",
        "chart version",
        "JupyterHub 5.5.0 (Z2JH 4.4.0)",
        CHANGED,
        "the chart's hub image pins its own JupyterHub",
    )
