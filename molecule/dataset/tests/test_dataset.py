"""dataset_mount + s3_twin, verified by behaviour on the test host (testinfra).

A seeded object is readable through the mount with the manifest's checksum, on the host and inside a
container bound ro,rslave; writing fails; an object added later shows up; an outage shows the
"dataset unavailable" note and the data comes back by itself, also in a container started before it.
"""

from __future__ import annotations

import json
import time

import pytest

ROOT = "/srv/skyhub/data"
MNT = f"{ROOT}/hst"
MANIFEST = "/var/lib/skyhub/s3-twin/seed/stpubdata.manifest.json"
TWIN_PY = "/opt/skyhub/s3-twin/bin/python"
PROBE = "skyhub-dataset-probe"
FIRST = "iskh/iskh02020/iskh02020_flt.fits"


def wait_for(host, cmd: str, timeout: float = 60, want_rc: int = 0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        res = host.run(cmd)
        if res.rc == want_rc:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"`{cmd}` still rc={res.rc} after {timeout}s: {res.stdout}{res.stderr}")
        time.sleep(2)


def put_object(host, key: str, body: str) -> None:
    script = (
        "import boto3; from botocore.config import Config; "
        "s3 = boto3.client('s3', endpoint_url='http://127.0.0.1:9000', region_name='us-east-1', "
        "aws_access_key_id='t', aws_secret_access_key='t', config=Config(s3={'addressing_style': 'path'})); "
        f"s3.put_object(Bucket='stpubdata', Key='{key}', Body=b'{body}', ACL='public-read')"
    )
    host.run_expect([0], f'{TWIN_PY} -c "{script}"')


@pytest.fixture(scope="module")
def manifest(host):
    return json.loads(host.file(MANIFEST).content_string)


@pytest.fixture(scope="module")
def probe(host):
    """A container started now with the dataset root bound ro,rslave, as the hub snippet does."""
    image = "skyhub-test/busybox:1"
    if host.run(f"docker image inspect {image}").rc != 0:
        host.run_expect([0], "DEBIAN_FRONTEND=noninteractive apt-get install -y -q busybox-static")
        host.run_expect(
            [0],
            "set -e; d=$(mktemp -d); cp /bin/busybox $d/busybox; "
            f"tar -C $d -c . | docker import -c 'ENTRYPOINT [\"/busybox\"]' - {image}; rm -rf $d",
        )
    host.run(f"docker rm -f {PROBE}")
    host.run_expect([0], f"docker run -d --name {PROBE} -v {ROOT}:/data:ro,rslave {image} sleep 3600")
    yield PROBE
    host.run(f"docker rm -f {PROBE}")


def test_units_are_running(host):
    for unit in ("skyhub-s3-twin.service", "skyhub-dataset@hst.service", "skyhub-dataset-check@hst.timer"):
        assert host.service(unit).is_running, unit
        assert host.service(unit).is_enabled, unit
    assert "shared" in host.run(f"findmnt -rn -o PROPAGATION -M {ROOT}").stdout


def test_seeded_files_have_the_manifest_checksums(host, manifest):
    assert len(manifest["objects"]) == 4
    for entry in manifest["objects"]:
        path = f"{MNT}/{entry['key'].removeprefix('hst/public/')}"
        assert host.file(path).sha256sum == entry["sha256"], path
        assert host.file(path).size == entry["size"]
        assert host.file(path).uid == 1000


def test_mount_is_read_only(host):
    res = host.run(f"touch {MNT}/new-file")
    assert res.rc != 0 and "Read-only file system" in res.stderr
    assert host.run(f"rm -f {MNT}/{FIRST}").rc != 0
    assert host.file(f"{MNT}/{FIRST}").exists


def test_container_sees_the_data_read_only(host, probe, manifest):
    entry = next(e for e in manifest["objects"] if e["key"].endswith(FIRST))
    out = host.check_output(f"docker exec {probe} /busybox sha256sum /data/hst/{FIRST}")
    assert out.split()[0] == entry["sha256"]
    res = host.run(f"docker exec {probe} /busybox touch /data/hst/x")
    assert res.rc != 0 and "Read-only" in res.stderr


def test_object_added_later_becomes_visible(host, probe):
    put_object(host, "hst/public/late/late00001/late00001_raw.fits", "late")
    wait_for(host, f"test -f {MNT}/late/late00001/late00001_raw.fits", timeout=30)
    wait_for(
        host, f"docker exec {probe} /busybox cat /data/hst/late/late00001/late00001_raw.fits", timeout=30
    )
    assert host.check_output(f"cat {MNT}/late/late00001/late00001_raw.fits") == "late"


def test_outage_shows_note_and_recovers_by_itself(host, probe):
    host.run_expect([0], "systemctl stop skyhub-s3-twin.service")
    try:
        # a mount that stops answering is restarted by the health check; at (re)start it cannot mount
        host.run_expect([0], "systemctl restart --no-block skyhub-dataset@hst.service")
        wait_for(host, f"test -f {MNT}/DATASET-UNAVAILABLE.txt", timeout=60)
        note = host.file(f"{MNT}/DATASET-UNAVAILABLE.txt").content_string
        assert "DATASET UNAVAILABLE" in note and "reappear here by themselves" in note
        wait_for(host, f"docker exec {probe} /busybox test -f /data/hst/DATASET-UNAVAILABLE.txt", timeout=30)
        assert host.run(f"findmnt -rn -M {MNT}").rc != 0
    finally:
        host.run_expect([0], "systemctl start skyhub-s3-twin.service")
    # no manual step: the unit retries every few seconds
    wait_for(host, f"test -f {MNT}/{FIRST}", timeout=90)
    assert not host.file(f"{MNT}/DATASET-UNAVAILABLE.txt").exists
    wait_for(host, f"docker exec {probe} /busybox test -f /data/hst/{FIRST}", timeout=30)
    assert host.run(f"docker exec {probe} /busybox test -f /data/hst/DATASET-UNAVAILABLE.txt").rc != 0


def test_endpoint_lost_while_mounted_is_detected_by_health_check(host):
    wait_for(host, f"findmnt -rn -M {MNT}", timeout=60)
    host.run_expect([0], "systemctl stop skyhub-s3-twin.service")
    try:
        # health check every 10 s, listing times out/fails, the unit restarts and shows the note
        wait_for(host, f"test -f {MNT}/DATASET-UNAVAILABLE.txt", timeout=90)
    finally:
        host.run_expect([0], "systemctl start skyhub-s3-twin.service")
    wait_for(host, f"test -f {MNT}/{FIRST}", timeout=90)


def test_hub_snippet_and_demo_content(host):
    snippet = host.file("/opt/tljh/config/jupyterhub_config.d/20-datasets.py")
    assert snippet.exists
    assert '"/srv/skyhub/data": {' in snippet.content_string
    assert '"mode": "ro,rslave"' in snippet.content_string
    for name in ("01-hst-data-tour.ipynb", "02-hst-cloud-native.ipynb", "README-data.md"):
        assert host.file(f"/srv/skyhub/skel/skyhub-demos/{name}").exists, name
    assert "stpubdata" in host.file(f"{ROOT}/README.md").content_string
