"""Attach the home volume to the instance (amazon.aws.ec2_vol's attach path needs MultiAttachEnabled in
DescribeVolumes, which moto does not return; this does the one thing we need, idempotently)."""

from __future__ import annotations

from typing import Any

from skyhub.errors import SkyhubError


def ensure_attached(ec2: Any, volume_id: str, instance_id: str, device: str) -> bool:
    """Attach `volume_id` to `instance_id` as `device`; False when it already is. Refuses to steal a volume
    attached to another running instance (replace the instance with aws-destroy.yml first)."""
    vol = ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]
    for att in vol.get("Attachments", []):
        if att["InstanceId"] == instance_id and att["State"] in ("attaching", "attached"):
            return False
        if att["State"] in ("attaching", "attached"):
            raise SkyhubError(
                f"home volume {volume_id} is attached to another instance ({att['InstanceId']}); "
                "stop or destroy that instance first"
            )
    ec2.attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device=device)
    ec2.get_waiter("volume_in_use").wait(VolumeIds=[volume_id], WaiterConfig={"Delay": 3, "MaxAttempts": 100})
    return True
