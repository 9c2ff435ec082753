"""Fixtures for the EKS integration tests: a moto server over HTTP on 127.0.0.1 (EKS, IAM, ECR, EC2, STS)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests
from eks_moto import REGION

from skyhub.netutil import free_port, wait_port

VENV_BIN = Path(sys.executable).parent
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@pytest.fixture(scope="session")
def eks_moto_server() -> Iterator[str]:
    """moto_server with AWS managed IAM policies loaded (the roles attach AmazonEKS* policies)."""
    port = free_port()
    env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
    proc = subprocess.Popen(
        [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        wait_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def aws(eks_moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A clean moto state per test, fake credentials in the environment; yields the endpoint."""
    requests.post(f"{eks_moto_server}/moto-api/reset", timeout=10).raise_for_status()
    for key, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    yield eks_moto_server


@pytest.fixture
def subnets(aws: str) -> list[str]:
    """Two subnets in two zones of a VPC (the operator's network the cluster is placed in)."""
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=aws)
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    return [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{i}.0/24", AvailabilityZone=f"{REGION}{z}")["Subnet"][
            "SubnetId"
        ]
        for i, z in ((1, "a"), (2, "b"))
    ]
