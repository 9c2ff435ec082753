"""Drive the `packer` binary (subprocess; python-packer is broken on Python 3 — docs/packer.md).

Stages the template (packer/*.pkr.hcl, with packer/modern/ files replacing same-named ones for Packer >=
1.7), runs `packer validate`/`packer build` with live progress and elapsed time, and turns the common
failures into messages that say what to do.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from skyhub.errors import SkyhubError

SOURCES = {"local": "docker.local", "aws": "amazon-ebs.aws"}
MODERN_VERSION = (1, 7, 0)


@dataclass(frozen=True)
class Failure:
    pattern: str
    message: str


# The first matching pattern in Packer's output names the cause (order: most specific first).
FAILURES: tuple[Failure, ...] = (
    Failure(
        r"NoCredentialProviders|no valid credential sources|No valid credential sources found|"
        r"failed to refresh cached credentials|UnrecognizedClientException|AuthFailure",
        "AWS credentials are missing or invalid: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY), e.g. after `aws sso login`, then run `skyhub build --target aws` again.",
    ),
    Failure(
        r"block public access for AMIs is enabled|DisableImageBlockPublicAccess",
        "the account blocks public AMIs in a region of this image, so the launch permission for all was "
        "refused and Packer deregistered the AMI: `aws ec2 disable-image-block-public-access --region R` in "
        "each region of --regions, wait until get-image-block-public-access-state says unblocked, and build "
        "again (docs/publishing.md).",
    ),
    Failure(
        r"[Ee]ncrypted[^\n]*can.t be (shared|made public)|[Ee]ncrypted (volumes|snapshots)[^\n]*public",
        "AWS refused to share an encrypted image: the account encrypts new EBS volumes by default in this "
        "region (`aws ec2 get-ebs-encryption-by-default`), so the image came out encrypted although "
        "aws_encrypt_boot=false. Publish from a region or account without it (docs/publishing.md).",
    ),
    Failure(
        r"UnauthorizedOperation",
        "AWS refused an EC2 call (UnauthorizedOperation): the credentials lack the permissions Packer "
        "needs (docs/packer.md lists them).",
    ),
    Failure(
        r"Unsupported block type|Unsupported argument|An argument named .* is not expected",
        "the Packer template uses a setting this Packer version does not know (Debian's 1.6.6 cannot read "
        "packer/modern/; see docs/packer.md).",
    ),
    Failure(
        r"Error running \"ansible-playbook --version\"|ansible-playbook: (command )?not found",
        "ansible-playbook was not found: run `make setup` (it installs Ansible into .venv).",
    ),
    Failure(
        r"Cannot connect to the Docker daemon|docker: not found|Error response from daemon: No such image",
        "Docker is not ready or the base image is missing: run `make base-images` (it starts the engine "
        "and builds skyhub/debian12-host).",
    ),
    Failure(
        r"Conflict\. The container name .* is already in use",
        "a build container of an earlier, interrupted build still exists: "
        "`docker rm -f skyhub-image-build` and build again.",
    ),
    Failure(
        r"Error executing Ansible|ansible-playbook .* exited|Error: .*[Aa]nsible",
        "the Ansible provisioner failed: the play output above shows the failing task.",
    ),
)


def explain(output: Iterable[str]) -> str | None:
    """The message for the first known failure found in Packer's output lines, or None."""
    text = "\n".join(output)
    for failure in FAILURES:
        if re.search(failure.pattern, text):
            return failure.message
    return None


def find_packer() -> str:
    path = shutil.which("packer")
    if path is None:
        raise SkyhubError(
            "packer is not installed: `sudo apt-get install packer` (Debian's 1.6.6 works) or install "
            "HashiCorp's Packer >= 1.7 and run `packer init` as docs/packer.md says."
        )
    return path


def parse_version(text: str) -> tuple[int, int, int]:
    m = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    if not m:
        raise SkyhubError(f"cannot read the Packer version from {text.strip()!r}")
    return (int(m.group(1)), int(m.group(2)), int(m.group(3)))


def packer_version(binary: str) -> tuple[int, int, int]:
    out = subprocess.run([binary, "version"], capture_output=True, text=True, check=False).stdout
    return parse_version(out)


def stage_template(template_dir: Path, stage_dir: Path, modern: bool) -> list[str]:
    """Copy the template into stage_dir; for modern Packer, packer/modern/ files replace same-named ones.
    Returns the staged file names."""
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    stage_dir.mkdir(parents=True)
    for f in sorted(template_dir.glob("*.pkr.hcl")):
        shutil.copy2(f, stage_dir / f.name)
    if modern:
        for f in sorted((template_dir / "modern").glob("*.pkr.hcl")):
            shutil.copy2(f, stage_dir / f.name)
    return sorted(p.name for p in stage_dir.glob("*.pkr.hcl"))


def var_args(variables: dict[str, str]) -> list[str]:
    args: list[str] = []
    for key, value in variables.items():
        args += ["-var", f"{key}={value}"]
    return args


def stream(
    argv: list[str],
    label: str,
    env: dict[str, str] | None = None,
    echo: Callable[[str], None] | None = None,
) -> list[str]:
    """Run argv, printing each output line with the elapsed time; return all lines. Raises SkyhubError
    with an explanation when the command fails."""
    echo = echo or (lambda line: print(line, flush=True))
    start = time.monotonic()
    lines: list[str] = []
    try:
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, bufsize=1
        )
    except FileNotFoundError as exc:
        raise SkyhubError(f"{argv[0]} not found: {exc}") from exc
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.rstrip()
        lines.append(line)
        if line.strip():
            echo(f"[{label} {_elapsed(time.monotonic() - start)}] {line}")
    rc = proc.wait()
    if rc != 0:
        reason = explain(lines) or "see Packer's output above."
        raise SkyhubError(f"{label} failed (exit {rc}) after {_elapsed(time.monotonic() - start)}: {reason}")
    return lines


def _elapsed(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m:02d}:{s:02d}"


def main_is_tty() -> bool:
    return sys.stdout.isatty()
