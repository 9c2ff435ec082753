"""boto3 clients for one region and an optional endpoint (a moto server in tests; "" = AWS)."""

from __future__ import annotations

from typing import Any

import boto3


def client(service: str, region: str, endpoint_url: str = "") -> Any:
    return boto3.session.Session(region_name=region).client(service, endpoint_url=endpoint_url or None)


def account_id(region: str, endpoint_url: str = "") -> str:
    return str(client("sts", region, endpoint_url).get_caller_identity()["Account"])
