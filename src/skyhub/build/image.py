"""`skyhub build`: the local twin image or the AMI from packer/, with a build manifest under build/."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from skyhub.build import packer, publish
from skyhub.errors import SkyhubError

REPO = Path(__file__).resolve().parents[3]
# Everything that decides the image's content: a change to any of these makes a new local image.
KEY_PATHS = ("packer", "playbooks", "roles", "images", "inventories/local", "notebooks")
LOCAL_REPOSITORY = "skyhub/appliance"


@dataclass
class BuildRequest:
    target: str  # local | aws
    variables: dict[str, str] = field(default_factory=dict)
    force: bool = False
    repo: Path = REPO
    publish: publish.PublishOptions = field(default_factory=publish.PublishOptions)
    validate_only: bool = False  # checks and `packer validate`, no build

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
        raise SkyhubError(f"--var vars_files must be a JSON list of paths, e.g. '[\"a.yml\"]' (got {raw!r})")
    return names


@dataclass(frozen=True)
class GitState:
    commit: str  # full sha, or "unknown" outside a git checkout
    dirty: bool  # uncommitted changes under KEY_PATHS (the image's inputs)

    @property
    def revision(self) -> str:
        """Short commit, "-dirty" appended when the inputs have uncommitted changes."""
        if self.commit == "unknown":
            return "unknown"
        return f"{self.commit[:12]}-dirty" if self.dirty else self.commit[:12]


def git_state(repo: Path) -> GitState:
    res = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    commit = res.stdout.strip() if res.returncode == 0 and res.stdout.strip() else "unknown"
    status = subprocess.run(
        ["git", "-C", str(repo), "status", "--porcelain", "--", *KEY_PATHS],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return GitState(commit=commit, dirty=bool(status) and commit != "unknown")


def git_revision(repo: Path) -> str:
    return git_state(repo).revision


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


def base_variables(req: BuildRequest, key: str, git: GitState) -> dict[str, str]:
    ansible = req.repo / ".venv" / "bin" / "ansible-playbook"
    common = {
        "repo_root": str(req.repo),
        "git_revision": git.revision,
        "git_commit": git.commit,
        "git_dirty": "unknown" if git.commit == "unknown" else str(git.dirty).lower(),
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


def resolve_variables(
    req: BuildRequest, key: str, git: GitState, now: datetime | None = None
) -> dict[str, str]:
    """Every Packer variable of the build: skyhub's own, the --var settings, and for the AMI the publishing
    settings, checked before Packer runs (skyhub.build.publish)."""
    opts = req.publish
    if req.target != "aws" and (opts.public or opts.regions is not None or opts.deprecate_at is not None):
        raise SkyhubError(
            "--public, --regions and --deprecate-at are settings of the AMI: use them with --target aws"
        )
    variables = {**base_variables(req, key, git), **req.variables}
    if req.target != "aws":
        return variables
    regions = publish.dataset_regions(req.repo, vars_files(req.variables))
    return publish.resolve(
        variables,
        opts,
        now=now or datetime.now(UTC),
        dataset_region_list=regions,
        dirty=git.dirty,
    )


def build(req: BuildRequest) -> dict:
    """Build (or reuse) the image; returns the manifest record (also written to build/image-<target>.json)."""
    if req.target not in packer.SOURCES:
        raise SkyhubError(f"--target must be one of {sorted(packer.SOURCES)} (got {req.target!r})")
    key = content_key(req.repo, req.variables)
    git = git_state(req.repo)
    # The settings are checked before anything else runs (no Packer needed to refuse bad input).
    variables = resolve_variables(req, key, git)
    binary = packer.find_packer()
    version = packer.packer_version(binary)
    modern = version >= packer.MODERN_VERSION
    source = packer.SOURCES[req.target]
    record: dict = {
        "target": req.target,
        "source": source,
        "content_key": key,
        "git_revision": git.revision,
        "git_commit": git.commit,
        "git_dirty": git.dirty,
        "skyhub_version": variables["version"],
        "packer_version": ".".join(map(str, version)),
        "variables": {k: v for k, v in variables.items() if "secret" not in k.lower()},
    }
    if req.target == "aws":
        record.update(
            public=variables["aws_public"] == "true",
            regions=[variables["aws_region"], *json.loads(variables["aws_ami_regions"])],
            deprecate_at=variables["aws_deprecate_at"] or None,
        )
    if req.target == "local":
        ref = f"{variables.get('docker_repository', LOCAL_REPOSITORY)}:{variables['docker_tag']}"
        record["image"] = ref
        existing = image_id(ref)
        if existing and not req.force and not req.validate_only:
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
    if req.validate_only:
        print(f"skyhub: {source} settings and template are valid (nothing built)", flush=True)
        record["validated_only"] = True
        return record
    if record.get("public"):
        # the account settings that would fail the build at its very end (docs/publishing.md)
        for warning in publish.check_account(record["regions"]):
            print(f"skyhub: warning: {warning}", flush=True)
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
            if variables["aws_deprecate_at"]:
                publish.set_deprecation(amis, variables["aws_deprecate_at"])
        record["ami_imds_support"] = "v2.0"
    path = write_manifest(req, record)
    print(
        f"skyhub: built {record.get('image') or record.get('amis')} in {record['duration_s']} s; "
        f"manifest {path.relative_to(req.repo)}",
        flush=True,
    )
    return record
