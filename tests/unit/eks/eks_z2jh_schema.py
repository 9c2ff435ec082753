"""The constraints of Zero to JupyterHub 4.4.0's values schema that skyhub's rendered values rely on.

Written by hand from reading the chart's jupyterhub/values.schema.yaml at tag 4.4.0 (commit 5c5f5df7,
2026-06-10); the upstream file is not committed. What is encoded:
- the allowed keys of every section we write into, where upstream says `additionalProperties: false`
  (top level, hub, hub.config, proxy, proxy.https, singleuser and the sub-objects we set, scheduling, cull);
- the types and enums of the keys we set;
- `required` only where our values must supply it themselves (Helm merges the chart's defaults before it
  validates, so keys the defaults fill — hub.baseUrl, cull.enabled … — are not required here).
Not encoded: sections we never write (their inner keys), and KubeSpawner's checks at hub start.
The remaining check is a real `helm template` with the chart (see docs/eks.md).
"""

from __future__ import annotations

from typing import Any

CHART_VERSION = "4.4.0"

ANY: dict[str, Any] = {}
STR_OR_NULL = {"type": ["string", "null"]}
INT_OR_NULL = {"type": ["integer", "null"]}
BOOL_OR_NULL = {"type": ["boolean", "null"]}


def obj(props: dict[str, Any], required: tuple[str, ...] = (), extra: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "additionalProperties": extra, "properties": props}
    if required:
        schema["required"] = list(required)
    return schema


def keys(*names: str) -> dict[str, Any]:
    return dict.fromkeys(names, ANY)


IMAGE = obj(
    {
        "name": {"type": "string"},
        "tag": {"type": "string"},
        "pullPolicy": {"enum": [None, "", "IfNotPresent", "Always", "Never"]},
        "pullSecrets": {"type": "array"},
    },
    required=("name", "tag"),
)

# KubeSpawner's documented profile_list keys (the chart passes the list through as `type: array`).
PROFILE = obj(
    {
        "display_name": {"type": "string"},
        "slug": {"type": "string", "pattern": "^[a-z0-9-]+$"},
        "description": {"type": "string"},
        "default": {"type": "boolean"},
        "kubespawner_override": {"type": "object"},
        "profile_options": {"type": "object"},
    },
    required=("display_name",),
)

HUB = obj(
    {
        **keys(
            "revisionHistoryLimit",
            "extraFiles",
            "baseUrl",
            "command",
            "args",
            "cookieSecret",
            "image",
            "networkPolicy",
            "db",
            "labels",
            "initContainers",
            "extraEnv",
            "fsGid",
            "service",
            "pdb",
            "existingSecret",
            "nodeSelector",
            "tolerations",
            "activeServerLimit",
            "allowNamedServers",
            "annotations",
            "authenticatePrometheus",
            "consecutiveFailureLimit",
            "podSecurityContext",
            "containerSecurityContext",
            "deploymentStrategy",
            "extraContainers",
            "extraVolumeMounts",
            "extraVolumes",
            "livenessProbe",
            "readinessProbe",
            "namedServerLimitPerUser",
            "redirectToServer",
            "resources",
            "lifecycle",
            "services",
            "loadRoles",
            "shutdownOnLogout",
            "templatePaths",
            "templateVars",
            "serviceAccount",
            "extraPodSpec",
        ),
        # keys are traitlets class names; each holds that class's settings
        "config": {
            "type": "object",
            "additionalProperties": False,
            "patternProperties": {"^[A-Z].*$": {"type": "object", "additionalProperties": True}},
            "properties": {
                "JupyterHub": {"type": "object", "properties": {"subdomain_host": {"type": "string"}}}
            },
        },
        "extraConfig": {"type": "object", "additionalProperties": {"type": "string"}},
        "concurrentSpawnLimit": INT_OR_NULL,
    }
)

PROXY = obj(
    {
        **keys("chp", "secretToken", "service", "traefik", "labels", "annotations", "deploymentStrategy"),
        "secretSync": ANY,
        "https": obj(
            {
                "enabled": BOOL_OR_NULL,
                "type": {"enum": [None, "", "letsencrypt", "manual", "offload", "secret"]},
                "letsencrypt": obj({"contactEmail": STR_OR_NULL, "acmeServer": STR_OR_NULL}),
                "manual": obj({"key": STR_OR_NULL, "cert": STR_OR_NULL}),
                "secret": obj({"name": STR_OR_NULL, "key": STR_OR_NULL, "crt": STR_OR_NULL}),
                "hosts": {"type": "array", "items": {"type": "string"}},
            }
        ),
    }
)

STORAGE = obj(
    {
        "capacity": {"type": ["string", "null"], "pattern": "^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti)$"},
        "dynamic": obj(
            {
                "pvcNameTemplate": STR_OR_NULL,
                "storageAccessModes": {"type": "array", "items": STR_OR_NULL},
                "storageClass": STR_OR_NULL,
                "subPath": STR_OR_NULL,
                "volumeNameTemplate": STR_OR_NULL,
            }
        ),
        "extraLabels": ANY,
        "extraVolumeMounts": {"type": ["object", "array", "null"]},
        "extraVolumes": {"type": ["object", "array", "null"]},
        "homeMountPath": {"type": "string"},
        "static": ANY,
        "type": {"enum": ["dynamic", "static", "none"]},
    }
)

SINGLEUSER = obj(
    {
        **keys(
            "networkPolicy",
            "podNameTemplate",
            "initContainers",
            "extraFiles",
            "extraEnv",
            "nodeSelector",
            "extraTolerations",
            "extraNodeAffinity",
            "extraPodAffinity",
            "extraPodAntiAffinity",
            "cmd",
            "events",
            "extraAnnotations",
            "extraContainers",
            "extraLabels",
            "extraPodConfig",
            "extraResource",
            "lifecycleHooks",
            "networkTools",
            "serviceAccountName",
        ),
        "cpu": obj({"limit": {"type": ["number", "null"]}, "guarantee": {"type": ["number", "null"]}}),
        "memory": obj(
            {
                "limit": {"type": ["number", "string", "null"]},
                "guarantee": {"type": ["number", "string", "null"]},
            }
        ),
        "image": IMAGE,
        "profileList": {"type": "array", "items": PROFILE},
        # required by the chart; the defaults give ip, we set both
        "cloudMetadata": obj(
            {"blockWithIptables": {"type": "boolean"}, "ip": {"type": "string"}},
            required=("blockWithIptables", "ip"),
        ),
        "defaultUrl": STR_OR_NULL,
        "fsGid": INT_OR_NULL,
        "startTimeout": INT_OR_NULL,
        "storage": STORAGE,
        "allowPrivilegeEscalation": BOOL_OR_NULL,
        "uid": INT_OR_NULL,
    }
)

_PURPOSE = obj({"matchNodePurpose": {"enum": ["ignore", "prefer", "require"]}})
SCHEDULING = obj(
    {
        "userScheduler": obj(
            {
                **keys(
                    "revisionHistoryLimit",
                    "replicas",
                    "image",
                    "pdb",
                    "nodeSelector",
                    "tolerations",
                    "labels",
                    "annotations",
                    "containerSecurityContext",
                    "logLevel",
                    "plugins",
                    "pluginConfig",
                    "resources",
                    "serviceAccount",
                    "extraPodSpec",
                ),
                "enabled": {"type": "boolean"},
            }
        ),
        "podPriority": ANY,
        "userPlaceholder": ANY,
        "corePods": obj({"tolerations": {"type": "array"}, "nodeAffinity": _PURPOSE}),
        "userPods": obj({"tolerations": {"type": "array"}, "nodeAffinity": _PURPOSE}),
    }
)

CULL = obj(
    {
        "enabled": {"type": "boolean"},
        "users": BOOL_OR_NULL,
        "adminUsers": BOOL_OR_NULL,
        "removeNamedServers": BOOL_OR_NULL,
        "timeout": INT_OR_NULL,
        "every": INT_OR_NULL,
        "concurrency": INT_OR_NULL,
        "maxAge": INT_OR_NULL,
    }
)

SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    **obj(
        {
            **keys(
                "enabled",
                "fullnameOverride",
                "nameOverride",
                "imagePullSecret",
                "imagePullSecrets",
                "ingress",
                "httpRoute",
                "prePuller",
                "debug",
                "rbac",
                "global",
            ),
            "hub": HUB,
            "proxy": PROXY,
            "singleuser": SINGLEUSER,
            "scheduling": SCHEDULING,
            "custom": {"type": "object", "additionalProperties": True},
            "cull": CULL,
        }
    ),
}
