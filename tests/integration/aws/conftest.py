"""Fixtures for the AWS tests: a moto server over HTTP on 127.0.0.1, fake credentials, an AMI id; a venv
with a real JupyterHub for the idle-shutdown checks."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests

from skyhub.netutil import free_port, wait_port

VENV_BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[3]
REGION = "us-east-1"
JUPYTERHUB_SPEC = "jupyterhub==5.5.4"  # the version the tljh role installs
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@pytest.fixture(scope="session")
def aws_moto_server() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def aws_endpoint(aws_moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A clean moto state per test and fake credentials; nothing can reach real AWS."""
    requests.post(f"{aws_moto_server}/moto-api/reset", timeout=10).raise_for_status()
    for key, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    return aws_moto_server


@pytest.fixture
def aws_ami(aws_endpoint: str) -> str:
    """An AMI registered in moto (stands in for the one `skyhub build` makes)."""
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=aws_endpoint)
    return ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]


@pytest.fixture(scope="session")
def hub_python() -> Path:
    """A venv with JupyterHub (cached in build/, made with pip from PyPI on first use)."""
    venv = ROOT / "build" / "aws-hubvenv"
    python = venv / "bin" / "python"
    if not (venv / "bin" / "jupyterhub").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", JUPYTERHUB_SPEC], check=True)
    return python
