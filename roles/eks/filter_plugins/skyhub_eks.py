"""Filters for the eks role: render Z2JH values from the hub variables; find missing controller tools."""

from __future__ import annotations

import dataclasses
import shutil
from typing import Any

from skyhub.eks import values


def _plain(value: Any) -> Any:
    """Ansible's lazy containers as plain dicts/lists/strings (the renderer deep-copies its input)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def skyhub_eks_render(hub_vars: dict[str, Any]) -> dict[str, Any]:
    """{values, manifests, report, not_carried} for the hub variables (see skyhub.eks.values)."""
    rendered = values.render(_plain(hub_vars))
    report = [dataclasses.asdict(e) for e in rendered.report]
    loud = [f"{e.setting}: {e.note}" for e in rendered.entries(values.NOT_CARRIED)]
    changed = [f"{e.setting}: {e.note}" for e in rendered.entries(values.CHANGED)]
    return {
        "values": rendered.values,
        "manifests": rendered.manifests,
        "report": report,
        "not_carried": loud,
        "changed_meaning": changed,
    }


def skyhub_eks_missing_tools(names: list[str]) -> list[str]:
    """The commands in `names` not found on the controller's PATH."""
    return [name for name in names if shutil.which(name) is None]


def skyhub_eks_private_datasets(datasets: list[dict[str, Any]]) -> list[dict[str, str]]:
    """{bucket, prefix} of the datasets read with credentials (anonymous: false): the S3 CSI role's scope."""
    return [
        {"bucket": d["bucket"], "prefix": d.get("prefix", "")}
        for d in datasets
        if not d.get("anonymous", True)
    ]


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "skyhub_eks_render": skyhub_eks_render,
            "skyhub_eks_missing_tools": skyhub_eks_missing_tools,
            "skyhub_eks_private_datasets": skyhub_eks_private_datasets,
        }
