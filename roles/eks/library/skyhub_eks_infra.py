#!/usr/bin/python
"""Ansible module: the EKS hub's AWS side (cluster, node groups, IAM, OIDC, ECR) via skyhub.eks.infra."""

from __future__ import annotations

DOCUMENTATION = r"""
module: skyhub_eks_infra
short_description: Create, add on to, or remove the skyhub EKS cluster and its IAM roles and ECR repositories
description:
  - Thin wrapper over C(skyhub.eks.infra) (boto3). Runs on the controller with the skyhub virtualenv.
options:
  state:
    description: present (cluster, node groups, IAM, ECR), addons (EBS and Mountpoint CSI add-ons), absent.
    type: str
    choices: [present, addons, absent, info, ecr_login]
    default: present
  name: {description: Cluster name., type: str, required: true}
  region: {description: AWS region., type: str, required: true}
  endpoint_url: {description: AWS-compatible endpoint ("" = AWS)., type: str, default: ""}
  kubernetes_version: {description: EKS Kubernetes version., type: str, default: "1.33"}
  subnet_ids: {description: Subnets (two or more zones)., type: list, elements: str, default: []}
  security_group_ids: {description: Extra security groups., type: list, elements: str, default: []}
  public_access_cidrs: {description: API allow list., type: list, elements: str, default: ["0.0.0.0/0"]}
  core_instance_type: {description: Core pool instance type., type: str, default: t3.large}
  user_instance_type: {description: User pool instance type., type: str, default: r6i.xlarge}
  user_min_nodes: {description: User pool minimum., type: int, default: 0}
  user_max_nodes: {description: User pool maximum., type: int, default: 10}
  ecr_repositories: {description: ECR repository names., type: list, elements: str, default: []}
  private_datasets: {description: "{bucket, prefix} to read.", type: list, elements: dict, default: []}
  tags: {description: Cost-allocation tags., type: dict, default: {}}
  role_arns: {description: IRSA role ARNs (state=addons)., type: dict, default: {}}
  delete_user_volumes: {description: Delete user home volumes too., type: bool, default: false}
"""

RETURN = r"""
outputs: {description: Cluster endpoint, OIDC issuer, role ARNs, ECR., type: dict, returned: always}
actions: {description: What changed., type: list, returned: always}
"""

from typing import Any  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

try:
    from skyhub.eks import infra
    from skyhub.errors import SkyhubError

    HAS_SKYHUB = True
except ImportError:  # pragma: no cover - reported to the user below
    HAS_SKYHUB = False


def _spec(p: dict) -> Any:
    return infra.ClusterSpec(
        name=p["name"],
        region=p["region"],
        subnet_ids=p["subnet_ids"],
        kubernetes_version=p["kubernetes_version"],
        security_group_ids=p["security_group_ids"],
        public_access_cidrs=p["public_access_cidrs"],
        nodegroups=infra.default_nodegroups(
            p["core_instance_type"], p["user_instance_type"], p["user_min_nodes"], p["user_max_nodes"]
        ),
        ecr_repositories=p["ecr_repositories"],
        private_datasets=p["private_datasets"],
        tags={str(k): str(v) for k, v in p["tags"].items()},
        endpoint_url=p["endpoint_url"],
    )


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "state": {
                "type": "str",
                "choices": ["present", "addons", "absent", "info", "ecr_login"],
                "default": "present",
            },
            "name": {"type": "str", "required": True},
            "region": {"type": "str", "required": True},
            "endpoint_url": {"type": "str", "default": ""},
            "kubernetes_version": {"type": "str", "default": "1.33"},
            "subnet_ids": {"type": "list", "elements": "str", "default": []},
            "security_group_ids": {"type": "list", "elements": "str", "default": []},
            "public_access_cidrs": {"type": "list", "elements": "str", "default": ["0.0.0.0/0"]},
            "core_instance_type": {"type": "str", "default": "t3.large"},
            "user_instance_type": {"type": "str", "default": "r6i.xlarge"},
            "user_min_nodes": {"type": "int", "default": 0},
            "user_max_nodes": {"type": "int", "default": 10},
            "ecr_repositories": {"type": "list", "elements": "str", "default": []},
            "private_datasets": {"type": "list", "elements": "dict", "default": []},
            "tags": {"type": "dict", "default": {}},
            "role_arns": {"type": "dict", "default": {}},
            "delete_user_volumes": {"type": "bool", "default": False},
        },
        supports_check_mode=False,
    )
    if not HAS_SKYHUB:
        module.fail_json(
            msg="skyhub_eks_infra needs the skyhub package: run the playbook from the skyhub venv"
        )
    p = module.params
    try:
        spec = _spec(p)
        if p["state"] == "info":
            module.exit_json(changed=False, actions=[], outputs={"exists": infra.cluster_exists(spec)})
        if p["state"] == "ecr_login":
            module.exit_json(changed=False, actions=[], outputs=infra.ecr_login(spec))
        if p["state"] == "present":
            res = infra.ensure(spec)
        elif p["state"] == "addons":
            res = infra.ensure_addons(spec, p["role_arns"])
        else:
            res = infra.destroy(spec, delete_user_volumes=p["delete_user_volumes"])
    except SkyhubError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # botocore errors: report the AWS message, not a traceback
        module.fail_json(msg=f"{type(exc).__name__}: {exc}")
    module.exit_json(changed=res.changed, actions=res.actions, outputs=res.outputs)


if __name__ == "__main__":
    main()
