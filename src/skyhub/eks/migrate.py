"""Moving users from a single-VM hub to the EKS hub: restic snapshots -> each user's home volume.

`restore_manifests(hub_vars, users)` writes, per user, the home claim (the name and size KubeSpawner would
create, so the hub adopts it at the first spawn) and a Job that restores the user's home directory from the
VM's restic repository into it. See docs/migrate-to-eks.md for the order of steps.
"""

from __future__ import annotations

import re
from typing import Any

from skyhub.eks import values

RESTIC_IMAGE = "docker.io/restic/restic:0.16.4"
SECRET_NAME = "skyhub-restic"  # keys: RESTIC_PASSWORD, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
_SIMPLE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,52}[a-z0-9])?$")


def claim_name(user: str) -> str:
    """KubeSpawner's default claim name (claim-{user_server}) for names that need no escaping."""
    if not _SIMPLE.match(user):
        raise ValueError(
            f'user "{user}": only lowercase letters, digits and dashes map 1:1 to a claim name; '
            "spawn this user once on EKS and restore into the claim the hub created (docs/migrate-to-eks.md)"
        )
    return f"claim-{user}"


def user_size(v: dict[str, Any], user: str, groups: list[str]) -> str:
    """The home size for a user: user size > largest group size > default (the quotas role's precedence)."""
    if user in v["quotas_user_sizes"]:
        return values.k8s_size(v["quotas_user_sizes"][user])
    sizes = [v["quotas_group_sizes"][g] for g in groups if g in v["quotas_group_sizes"]]
    if sizes:
        return values.k8s_size(max(sizes, key=_kib))
    return values.k8s_size(v["quotas_default_size"])


def _kib(size: str) -> float:
    text = str(size).strip().upper()
    return float(text[:-1]) * {"K": 1, "M": 1024, "G": 1024**2, "T": 1024**3}[text[-1]]


def repository_url(v: dict[str, Any]) -> str:
    endpoint = v.get("backups_s3_endpoint") or f"s3.{v.get('backups_s3_region') or 'us-east-1'}.amazonaws.com"
    endpoint = endpoint.removeprefix("https://").removeprefix("http://").rstrip("/")
    return f"s3:{endpoint}/{v['backups_s3_bucket']}/{v.get('backups_s3_prefix', 'skyhub/')}".rstrip("/")


def restore_manifests(
    hub_vars: dict[str, Any], users: dict[str, list[str]], snapshot: str = "latest"
) -> list[dict[str, Any]]:
    """Claim + restore Job per user ({user: [groups]})."""
    v = values.effective_vars(hub_vars)
    if not v["backups_enabled"] or not v["backups_s3_bucket"]:
        raise ValueError(
            "backups_enabled is false or backups_s3_bucket is empty: there is no restic repository"
        )
    home_root = v.get("base_home_root", "/srv/skyhub/home")
    out: list[dict[str, Any]] = []
    for user, groups in sorted(users.items()):
        claim = claim_name(user)
        out.append(_claim(v, claim, user_size(v, user, groups)))
        out.append(_job(v, user, claim, f"{home_root}/{user}", snapshot))
    return out


def _claim(v: dict[str, Any], claim: str, size: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": claim,
            "namespace": v["eks_namespace"],
            "labels": {"app.kubernetes.io/part-of": "skyhub"},
        },
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": v["eks_storage_class"],
            "resources": {"requests": {"storage": size}},
        },
    }


def _job(v: dict[str, Any], user: str, claim: str, path: str, snapshot: str) -> dict[str, Any]:
    uid, gid = int(v["tljh_container_uid"]), int(v["tljh_container_gid"])
    script = (
        f"restic restore {snapshot} --path {path} --target /restore && "
        f"cp -a /restore{path}/. /home/jovyan/ && chown -R {uid}:{gid} /home/jovyan && "
        "echo restored $(du -sh /home/jovyan | cut -f1)"
    )
    env = [{"name": "RESTIC_REPOSITORY", "value": repository_url(v)}]
    env += [
        {"name": key, "valueFrom": {"secretKeyRef": {"name": SECRET_NAME, "key": key}}}
        for key in ("RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    ]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": f"skyhub-restore-{user}",
            "namespace": v["eks_namespace"],
            "labels": {"app.kubernetes.io/part-of": "skyhub-restore"},
        },
        "spec": {
            "backoffLimit": 2,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "tolerations": [
                        {
                            "key": "hub.jupyter.org/dedicated",
                            "value": "user",
                            "effect": "NoSchedule",
                            "operator": "Equal",
                        }
                    ],
                    "containers": [
                        {
                            "name": "restore",
                            "image": RESTIC_IMAGE,
                            "command": ["sh", "-c", script],
                            "env": env,
                            "volumeMounts": [
                                {"name": "home", "mountPath": "/home/jovyan"},
                                {"name": "scratch", "mountPath": "/restore"},
                            ],
                        }
                    ],
                    "volumes": [
                        {"name": "home", "persistentVolumeClaim": {"claimName": claim}},
                        {"name": "scratch", "emptyDir": {}},
                    ],
                }
            },
        },
    }
