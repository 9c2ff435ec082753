"""Helpers shared by the EKS integration tests (imported by module name: no package here)."""

from __future__ import annotations

from typing import Any

import boto3

REGION = "us-east-1"


def client(service: str, endpoint: str) -> Any:
    """A boto3 client for the moto server."""
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint)
