#!/usr/bin/env python3
"""A tiny qemu (TCG) VM with Debian's cloud kernel, for tests that need a real kernel feature.

The host kernel of the development/CI machines has no quota support, so the XFS project quota test runs
here: Debian bookworm (mmdebstrap, minbase + linux-image-cloud-amd64 + xfsprogs + python3) as an ext4 root
image, the kernel and initramfs (initramfs-tools, loads virtio/ext4) taken from it, cached under
build/cache/vm-<key>/ (the key hashes what goes into the image). A run boots the cached image read-only
(qemu snapshot), with a blank scratch disk (/dev/vdb) and a payload disk (/dev/vdc, an ext4 image made from a
directory with `mkfs.ext4 -d`) whose run.sh is the test; its output comes back over the serial console
and the VM powers off.

    python3 tests/vm/vmlib.py build     # install host packages when missing, build the image (cached)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "build" / "cache"
MIRROR = "http://deb.debian.org/debian"
SUITE = "bookworm"
GUEST_PACKAGES = ("linux-image-cloud-amd64", "initramfs-tools", "xfsprogs", "python3", "util-linux")
HOST_PACKAGES = {  # command -> Debian package
    "qemu-system-x86_64": "qemu-system-x86",
    "mmdebstrap": "mmdebstrap",
    "mkfs.ext4": "e2fsprogs",
}
EXIT_MARK = "SKYHUB-VM-EXIT"
IMAGE_SIZE_MB = 1200

GUEST_INIT = f"""#!/bin/sh
# PID 1 of the test VM: mount the basics and the payload disk, run its run.sh, report, power off.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys 2>/dev/null
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
mkdir -p /payload
rc=99
if mount -o ro /dev/vdc /payload; then
    sh /payload/run.sh 2>&1
    rc=$?
fi
echo "{EXIT_MARK} $rc"
sync
echo o > /proc/sysrq-trigger
sleep 30
"""


def log(msg: str) -> None:
    print(f"skyhub-vm: {msg}", file=sys.stderr, flush=True)


def image_key() -> str:
    """Content key of the image: everything that goes into it (not the run-time settings)."""
    inputs = "\n".join([SUITE, MIRROR, *GUEST_PACKAGES, GUEST_INIT, str(IMAGE_SIZE_MB), "v1"])
    return hashlib.sha256(inputs.encode()).hexdigest()[:12]


def image_dir() -> Path:
    return CACHE / f"vm-{image_key()}"


def ensure_host_packages() -> None:
    missing = sorted({pkg for cmd, pkg in HOST_PACKAGES.items() if not shutil.which(cmd)})
    if not missing:
        return
    if os.geteuid() != 0:
        raise SystemExit(
            f"skyhub-vm: missing {' '.join(missing)}: run `sudo apt-get install {' '.join(missing)}`"
        )
    log(f"installing {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], check=True, env=env
    )


def build(force: bool = False) -> Path:
    """The cached image directory (vmlinuz, initrd.img, rootfs.ext4), built when missing."""
    out = image_dir()
    if (out / "rootfs.ext4").exists() and not force:
        return out
    ensure_host_packages()
    if os.geteuid() != 0:
        raise SystemExit("skyhub-vm: building the VM image needs root (mmdebstrap, chroot)")
    started = time.monotonic()
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="skyhub-vm-", dir=CACHE) as tmp:
        rootfs = Path(tmp) / "root"
        log(f"mmdebstrap {SUITE} with {', '.join(GUEST_PACKAGES)} (a minute or two)")
        subprocess.run(
            ["mmdebstrap", "--variant=minbase", f"--include={','.join(GUEST_PACKAGES)}",
             "--aptopt=Acquire::Retries \"3\"", SUITE, str(rootfs), MIRROR],
            check=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )  # fmt: skip
        init = rootfs / "sbin" / "skyhub-vm-init"
        init.write_text(GUEST_INIT)
        init.chmod(0o755)
        staging = Path(tmp) / "out"
        staging.mkdir()
        shutil.copy(sorted((rootfs / "boot").glob("vmlinuz-*"))[-1], staging / "vmlinuz")
        shutil.copy(sorted((rootfs / "boot").glob("initrd.img-*"))[-1], staging / "initrd.img")
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man"):
            shutil.rmtree(rootfs / junk, ignore_errors=True)
        log("making the ext4 root image")
        subprocess.run(
            [
                "mkfs.ext4",
                "-q",
                "-F",
                "-L",
                "skyhubvm",
                "-d",
                str(rootfs),
                str(staging / "rootfs.ext4"),
                "1200M",
            ],
            check=True,
        )
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    log(f"image ready in {out} ({time.monotonic() - started:.0f} s)")
    return out


def run(payload: Path, scratch_mb: int = 512, timeout: float = 300, memory_mb: int = 768) -> tuple[int, str]:
    """Boot the cached image with payload/run.sh as the test. (exit code of run.sh, console output)."""
    image = build()
    with tempfile.TemporaryDirectory(prefix="skyhub-vm-run-") as tmp:
        scratch = Path(tmp) / "scratch.img"
        with open(scratch, "wb") as fh:
            fh.truncate(scratch_mb * 1024 * 1024)
        payload_img = Path(tmp) / "payload.img"
        subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(payload), str(payload_img), "32M"], check=True)
        cmd = [
            "qemu-system-x86_64", "-accel", "tcg", "-m", str(memory_mb), "-smp", "1",
            "-nographic", "-no-reboot", "-monitor", "none", "-nic", "none",
            "-kernel", str(image / "vmlinuz"), "-initrd", str(image / "initrd.img"),
            "-append", "root=/dev/vda rw console=ttyS0 init=/sbin/skyhub-vm-init panic=-1 loglevel=4",
            "-drive", f"file={image / 'rootfs.ext4'},if=virtio,format=raw,snapshot=on",
            "-drive", f"file={scratch},if=virtio,format=raw",
            "-drive", f"file={payload_img},if=virtio,format=raw,readonly=on",
        ]  # fmt: skip
        res = subprocess.run(
            cmd, capture_output=True, text=True, errors="replace", timeout=timeout, check=False
        )
    output = res.stdout + res.stderr
    for line in reversed(output.splitlines()):
        if line.strip().startswith(EXIT_MARK):
            return int(line.split()[1]), output
    return 98, output


if __name__ == "__main__":
    if sys.argv[1:2] == ["build"]:
        print(build(force="--force" in sys.argv))
    else:
        raise SystemExit(__doc__)
