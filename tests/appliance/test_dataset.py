"""The dataset as a user meets it, from code running in their own server (a real kernel): the seeded HST
files at /data/hst with the manifest's checksums, read-only, new objects appear, the demo notebook runs,
and an outage is explained and heals by itself. Needs the local S3 twin (skipped where there is none)."""

from __future__ import annotations

import json
import time

import pytest
from hub import HubError, run_code

MANIFEST = "/var/lib/skyhub/s3-twin/seed/stpubdata.manifest.json"
TWIN_PY = "/opt/skyhub/s3-twin/bin/python"


@pytest.fixture(scope="module")
def manifest(host) -> dict:
    if not host.file(MANIFEST).exists:
        pytest.skip("no local S3 twin on this target (a real bucket is not checked byte for byte)")
    return json.loads(host.file(MANIFEST).content_string)


@pytest.fixture(scope="module")
def erin(new_user, manifest):
    user = new_user("erin")
    user.start()
    return user


def _put_object(host, key: str, body: str) -> None:
    script = (
        "import boto3; from botocore.config import Config; "
        "s3 = boto3.client('s3', endpoint_url='http://127.0.0.1:9000', region_name='us-east-1', "
        "aws_access_key_id='t', aws_secret_access_key='t', config=Config(s3={'addressing_style': 'path'})); "
        f"s3.put_object(Bucket='stpubdata', Key='{key}', Body=b'{body}', ACL='public-read')"
    )
    host.run_expect([0], f'{TWIN_PY} -c "{script}"')


def test_seeded_files_have_the_manifest_checksums(erin, manifest):
    objects = [o for o in manifest["objects"] if o["key"].startswith("hst/public/")]
    assert objects, "the manifest lists HST objects"
    code = (
        "import hashlib, json\n"
        f"keys = {json.dumps([o['key'] for o in objects])}\n"
        "out = {k: hashlib.sha256(open('/data/hst/' + k[len('hst/public/'):], 'rb').read()).hexdigest()"
        " for k in keys}\n"
        "print(json.dumps(out))\n"
    )
    seen = json.loads(run_code(erin, code).strip().splitlines()[-1])
    assert seen == {o["key"]: o["sha256"] for o in objects}


def test_data_is_read_only(erin):
    out = run_code(
        erin,
        "import errno\n"
        "try:\n    open('/data/hst/written-by-user.txt', 'w').write('x')\n    print('WROTE')\n"
        "except OSError as e:\n    print('REFUSED', errno.errorcode[e.errno])\n",
    )
    assert out.startswith("REFUSED"), out


def test_object_added_after_the_server_started_appears(erin, host):
    key = f"hst/public/late/late-{int(time.time())}.txt"
    _put_object(host, key, "arrived later")
    code = (
        "import os, time\n"
        f"p = '/data/hst/{key[len('hst/public/') :]}'\n"
        "for _ in range(90):\n    if os.path.exists(p):\n        break\n    time.sleep(1)\n"
        "print(open(p).read())\n"
    )
    assert run_code(erin, code, timeout=150).strip() == "arrived later"


def test_demo_notebook_runs_in_the_users_server_and_plots(erin):
    code = (
        "import glob, nbformat, nbclient\n"
        "path = sorted(glob.glob('/home/jovyan/**/01-*.ipynb', recursive=True))[0]\n"
        "nb = nbformat.read(path, as_version=4)\n"
        "nbclient.NotebookClient(nb, timeout=300, kernel_name='python3').execute()\n"
        "outs = [o for c in nb.cells if c.cell_type == 'code' for o in c.get('outputs', [])]\n"
        "print('ERRORS', sum(o.get('output_type') == 'error' for o in outs))\n"
        "print('PNGS', sum('image/png' in o.get('data', {}) for o in outs))\n"
    )
    out = run_code(erin, code, timeout=400)
    assert "ERRORS 0" in out, out
    pngs = int(out.split("PNGS")[1].split()[0])
    assert pngs >= 1, out


def test_outage_is_explained_and_heals_by_itself(erin, host, new_user):
    listing = "import os; print(sorted(os.listdir('/data/hst')))"
    host.run_expect([0], "systemctl stop skyhub-s3-twin")
    # as at boot with the endpoint down: the mount unit keeps retrying in the background
    host.run_expect([0], "systemctl restart --no-block skyhub-dataset@hst")
    try:
        # the hub is up and a new server still starts
        frank = new_user("frank")
        frank.start(timeout=120)
        assert "DATASET-UNAVAILABLE.txt" in _listing_settles(frank, listing, want_note=True)
    finally:
        host.run_expect([0], "systemctl start skyhub-s3-twin")
    out = _listing_settles(erin, listing, want_note=False)
    assert "DATASET-UNAVAILABLE.txt" not in out and "iskh" in out, f"data did not come back: {out}"


def _listing_settles(user, listing: str, want_note: bool, timeout: float = 150) -> str:
    """List /data/hst until it shows (or stops showing) the unavailable note. While the mount changes
    state a listing can fail (a FUSE mount going away); that counts as "not yet"."""
    deadline = time.monotonic() + timeout
    out = ""
    while time.monotonic() < deadline:
        try:
            out = run_code(user, listing)
        except HubError as exc:
            out = f"error: {exc}"
        if out and not out.startswith("error") and ("DATASET-UNAVAILABLE.txt" in out) == want_note:
            return out
        time.sleep(3)
    return out
