"""`skyhub build`: the local twin image or the AMI from packer/, with a build manifest under build/."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from skyhub.build import packer
from skyhub.errors import SkyhubError

REPO = Path(__file__).resolve().parents[3]
# Everything that decides the image's content: a change to any of these makes a new local image.
KEY_PATHS = ("packer", "playbooks", "roles", "plugin", "images", "inventories/local", "notebooks")
LOCAL_REPOSITORY = "skyhub/appliance"


@dataclass
class BuildRequest:
    target: str  # local | aws
    variables: dict[str, str] = field(default_factory=dict)
    force: bool = False
    repo: Path = REPO

    @property
    def build_dir(self) -> Path:
        return self.repo / "build"


def content_key(repo: Path, variables: dict[str, str], paths: tuple[str, ...] = KEY_PATHS) -> str:
    """sha256 over the files under `paths` (relative names and bytes) and the --var settings."""
    h = hashlib.sha256()
    for top in paths:
        base = repo / top
        files = sorted(p for p in base.rglob("*") if p.is_file()) if base.is_dir() else []
        for f in files:
            if "__pycache__" in f.parts or f.suffix == ".pyc" or ".molecule" in f.parts:
                continue
            h.update(str(f.relative_to(repo)).encode() + b"\0")
            h.update(hashlib.sha256(f.read_bytes()).digest())
    for key in sorted(variables):
        h.update(f"{key}={variables[key]}\0".encode())
    # vars files decide the content too: hash what they say, not only their names
    for name in vars_files(variables):
        path = Path(name) if Path(name).is_absolute() else repo / name
        if not path.is_file():
            raise SkyhubError(f"vars_files names {name}, which is not a file (paths are relative to {repo})")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()[:12]


def vars_files(variables: dict[str, str]) -> list[str]:
    """The vars_files variable (a JSON list, as Packer takes it) as a list of names."""
    raw = variables.get("vars_files", "")
    if not raw:
        return []
    try:
        names = json.loads(raw)
    except json.JSONDecodeError:
        names = None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise SkyhubError(f'--var vars_files must be a JSON list of paths, e.g. \'["a.yml"]\' (got {raw!r})')
    return names


def git_revision(repo: Path) -> str:
    res = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--short=12", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    rev = res.stdout.strip() or "unknown"
    dirty = subprocess.run(
        ["git", "-C", str(repo), "status", "--porcelain", "--", *KEY_PATHS],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"{rev}-dirty" if dirty and rev != "unknown" else rev


def skyhub_version() -> str:
    try:
        from importlib.metadata import version

        return version("skyhub")
    except Exception:  # not installed: a source tree
        return "0.0.0+src"


def image_id(ref: str) -> str | None:
    res = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Id}}", ref], capture_output=True, text=True, check=False
    )
    return res.stdout.strip() or None if res.returncode == 0 else None


def parse_variables(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SkyhubError(f"--var {pair!r}: use --var NAME=VALUE (e.g. --var aws_region=eu-west-1)")
        out[key] = value
    return out


def base_variables(req: BuildRequest, key: str, rev: str) -> dict[str, str]:
    ansible = req.repo / ".venv" / "bin" / "ansible-playbook"
    common = {
        "repo_root": str(req.repo),
        "git_revision": rev,
        "version": skyhub_version(),
    }
    if ansible.exists():
        common["ansible_playbook"] = str(ansible)
    if req.target == "local":
        common["docker_repository"] = LOCAL_REPOSITORY
        common["docker_tag"] = key
    return common


def amis_from_artifact(artifact_id: str) -> dict[str, str]:
    """Packer's amazon-ebs artifact id "us-east-1:ami-1,eu-west-1:ami-2" as {region: ami}."""
    out = {}
    for part in artifact_id.split(","):
        region, _, ami = part.partition(":")
        if ami:
            out[region.strip()] = ami.strip()
    return out


def last_artifact(manifest: Path, source: str) -> str:
    if not manifest.is_file():
        raise SkyhubError(f"Packer finished but wrote no manifest at {manifest}")
    data = json.loads(manifest.read_text())
    builds = [b for b in data.get("builds", []) if b.get("name") == source.split(".", 1)[1]]
    if not builds:
        raise SkyhubError(f"{manifest} has no artifact of {source}")
    return str(builds[-1]["artifact_id"])


def mark_imds_v2(amis: dict[str, str]) -> None:
    """Packer 1.6.6 cannot set the AMI's IMDS support: mark each AMI IMDSv2-only with boto3 afterwards."""
    import boto3

    for region, ami in amis.items():
        boto3.client("ec2", region_name=region).modify_image_attribute(
            ImageId=ami, ImdsSupport={"Value": "v2.0"}
        )
        print(f"skyhub: {ami} ({region}) marked IMDSv2-only", flush=True)


def prune_stale(current: str) -> list[str]:
    """Remove the repository's other content-key tags (an image of an older key is never used again).
    Docker refuses to remove an image a container still uses; that one stays until its container goes."""
    repository = current.rsplit(":", 1)[0]
    res = subprocess.run(
        ["docker", "images", repository, "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    removed = []
    for ref in res.stdout.split():
        if ref in (current, f"{repository}:latest") or ref.endswith(":<none>"):
            continue
        if subprocess.run(["docker", "image", "rm", ref], capture_output=True, check=False).returncode == 0:
            removed.append(ref)
            print(f"skyhub: removed the stale image {ref}", flush=True)
    return removed


def write_manifest(req: BuildRequest, record: dict) -> Path:
    req.build_dir.mkdir(parents=True, exist_ok=True)
    path = req.build_dir / f"image-{req.target}.json"
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return path


def build(req: BuildRequest) -> dict:
    """Build (or reuse) the image; returns the manifest record (also written to build/image-<target>.json)."""
    if req.target not in packer.SOURCES:
        raise SkyhubError(f"--target must be one of {sorted(packer.SOURCES)} (got {req.target!r})")
    binary = packer.find_packer()
    version = packer.packer_version(binary)
    modern = version >= packer.MODERN_VERSION
    key = content_key(req.repo, req.variables)
    rev = git_revision(req.repo)
    variables = {**base_variables(req, key, rev), **req.variables}
    source = packer.SOURCES[req.target]
    record: dict = {
        "target": req.target,
        "source": source,
        "content_key": key,
        "git_revision": rev,
        "skyhub_version": variables["version"],
        "packer_version": ".".join(map(str, version)),
        "variables": {k: v for k, v in variables.items() if "secret" not in k.lower()},
    }
    if req.target == "local":
        ref = f"{variables.get('docker_repository', LOCAL_REPOSITORY)}:{variables['docker_tag']}"
        record["image"] = ref
        existing = image_id(ref)
        if existing and not req.force:
            print(f"skyhub: {ref} is up to date (content key {key}); nothing to build", flush=True)
            record.update(image_id=existing, cached=True, duration_s=0.0)
            write_manifest(req, record)
            return record
    stage = req.build_dir / "packer" / req.target
    files = packer.stage_template(req.repo / "packer", stage, modern)
    print(f"skyhub: Packer {record['packer_version']}, template {', '.join(files)}", flush=True)
    env = dict(os.environ)
    if req.target == "local":
        env.pop("AWS_PROFILE", None)
    argv_common = ["-only=" + source, *packer.var_args(variables)]
    start = time.monotonic()
    packer.stream([binary, "validate", *argv_common, str(stage)], "validate", env=env)
    manifest = req.build_dir / "packer-manifest.json"
    manifest.unlink(missing_ok=True)
    packer.stream([binary, "build", "-color=false", "-force", *argv_common, str(stage)], source, env=env)
    artifact = last_artifact(manifest, source)
    record.update(duration_s=round(time.monotonic() - start, 1), cached=False, artifact_id=artifact)
    if req.target == "local":
        record["image_id"] = image_id(record["image"]) or artifact
        latest = record["image"].rsplit(":", 1)[0] + ":latest"
        subprocess.run(["docker", "tag", record["image"], latest], check=False)
        record["pruned"] = prune_stale(record["image"])
    else:
        amis = amis_from_artifact(artifact)
        record["amis"] = amis
        if not modern:
            mark_imds_v2(amis)
        record["ami_imds_support"] = "v2.0"
    path = write_manifest(req, record)
    print(
        f"skyhub: built {record.get('image') or record.get('amis')} in {record['duration_s']} s; "
        f"manifest {path.relative_to(req.repo)}",
        flush=True,
    )
    return record
