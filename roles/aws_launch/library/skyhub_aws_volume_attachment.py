#!/usr/bin/python
"""Ansible module: attach the home volume to the instance (skyhub.aws.volume)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: skyhub_aws_volume_attachment
short_description: Attach an EBS volume to an instance, idempotently
description:
  - Used instead of amazon.aws.ec2_vol's attach path, which needs MultiAttachEnabled in DescribeVolumes.
options:
  volume_id: {description: The volume., type: str, required: true}
  instance_id: {description: The instance., type: str, required: true}
  device: {description: Device name., type: str, required: true}
  region: {description: AWS region., type: str, required: true}
  endpoint_url: {description: API endpoint ("" = AWS)., type: str, default: ""}
"""

RETURN = r"""
volume_id: {description: The volume., type: str, returned: always}
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

try:
    from botocore.exceptions import BotoCoreError, ClientError

    from skyhub.aws.clients import client
    from skyhub.aws.volume import ensure_attached
    from skyhub.errors import SkyhubError

    HAS_SKYHUB = True
except ImportError:  # pragma: no cover - reported to the user below
    HAS_SKYHUB = False


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "volume_id": {"type": "str", "required": True},
            "instance_id": {"type": "str", "required": True},
            "device": {"type": "str", "required": True},
            "region": {"type": "str", "required": True},
            "endpoint_url": {"type": "str", "default": ""},
        },
        supports_check_mode=False,
    )
    if not HAS_SKYHUB:
        module.fail_json(msg="the skyhub package (and boto3) must be importable by the controller's Python")
    p = module.params
    try:
        changed = ensure_attached(
            client("ec2", p["region"], p["endpoint_url"]), p["volume_id"], p["instance_id"], p["device"]
        )
    except SkyhubError as exc:
        module.fail_json(msg=f"aws_launch: {exc}")
    except (BotoCoreError, ClientError) as exc:
        module.fail_json(msg=f"aws_launch: attaching {p['volume_id']}: {exc}")
    module.exit_json(changed=changed, volume_id=p["volume_id"])


if __name__ == "__main__":
    main()
