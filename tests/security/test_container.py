"""Attacks from inside a user's own server: what one signed-in user can do to the host, the hub and others.

Each runs as a real user through the hub (code in their kernel, or requests with their own token). Limits
are checked by hitting them (bounded in count and size) with a control that shows the same code succeeds
below the limit, so a passing test means the limit stopped it, not that the code was broken.
"""

from __future__ import annotations

import json
import shlex

import pytest
from hub import HubUser, run_code

pytestmark = pytest.mark.security


@pytest.fixture(scope="module")
def eve(working_user) -> HubUser:
    return working_user("eve")


@pytest.fixture(scope="module")
def bob(working_user) -> HubUser:
    return working_user("bob", {"notes.txt": "bob's notes\n"})


def results(user: HubUser, code: str) -> dict:
    """Run code that prints one JSON line, and return it."""
    out = run_code(user, "import json, os, errno\n" + code, timeout=180)
    return json.loads(out.strip().splitlines()[-1])


def test_image_filesystem_is_read_only(eve):
    got = results(
        eve,
        "r = {}\n"
        "for p in ['/usr/local/evil', '/etc/evil', '/opt/evil', '/home/evil', '/var/tmp/evil']:\n"
        "    try:\n"
        "        open(p, 'w').write('x'); r[p] = 'written'\n"
        "    except OSError as e:\n"
        "        r[p] = errno.errorcode[e.errno]\n"
        "open(os.path.expanduser('~/ok.txt'), 'w').write('x'); r['home'] = 'written'\n"
        "open('/tmp/ok.txt', 'w').write('x'); r['tmp'] = 'written'\n"
        "print(json.dumps(r))\n",
    )
    # control: home and /tmp are writable, so the refusals are the read-only image, not a broken probe
    assert got.pop("home") == "written" and got.pop("tmp") == "written"
    assert set(got.values()) == {"EROFS"}, got


def test_filling_tmp_stops_at_its_size(eve, hub_url):
    got = results(
        eve,
        "chunk, total, err = b'\\0' * (16 << 20), 0, None\n"
        "fd = os.open('/tmp/fill', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)\n"
        "try:\n"
        "    while total < (2 << 30):  # bounded: never more than 2 GiB\n"
        "        try:\n"
        "            total += os.write(fd, chunk)\n"
        "        except OSError as e:\n"
        "            err = errno.errorcode[e.errno]; break\n"
        "finally:\n"
        "    os.close(fd); os.unlink('/tmp/fill')\n"
        "print(json.dumps({'total': total, 'err': err}))\n",
    )
    assert got["err"] == "ENOSPC", got
    assert 64 << 20 <= got["total"] <= 1 << 30, got  # the tmpfs size (512M), well below the 2 GiB bound
    assert eve.api("GET", "/").status_code == 200


def test_fork_bomb_is_stopped_by_the_process_limit(eve, bob):
    got = results(
        eve,
        "import subprocess\nprocs, err = [], None\n"
        "try:\n"
        "    for _ in range(4000):  # bounded; the limit is far lower\n"
        "        procs.append(subprocess.Popen(['sleep', '60']))\n"
        "except OSError as e:\n"
        "    err = errno.errorcode[e.errno]\n"
        "n = len(procs)\n"
        "for p in procs: p.kill()\n"
        "for p in procs: p.wait()\n"
        "print(json.dumps({'started': n, 'err': err}))\n",
    )
    assert got["err"] == "EAGAIN", got
    assert 10 < got["started"] < 4000, got  # control: processes do start, until the limit
    assert bob.server("GET", "api/status").status_code == 200  # the neighbour is unaffected


def test_memory_hog_is_killed_inside_its_own_server(eve, bob):
    code = (
        "import subprocess, sys\n"
        "def hog(mib):\n"
        "    return subprocess.run([sys.executable, '-c', f'b = bytearray({mib} << 20); print(len(b))'],\n"
        "                          capture_output=True).returncode\n"
        "print(json.dumps({'small': hog(64), 'huge': hog(4096)}))\n"
    )
    got = results(eve, code)
    assert got["small"] == 0, got  # control: allocating works below the limit
    assert got["huge"] == -9, got  # the kernel's OOM killer, inside the server's memory cgroup
    assert eve.server("GET", "api/status").status_code == 200
    assert bob.server("GET", "api/status").status_code == 200


def test_no_privileges_no_docker_socket(eve):
    got = results(
        eve,
        "lines = open('/proc/self/status').read().splitlines()\n"
        "st = dict(l.split(':\\t', 1) for l in lines if ':\\t' in l)\n"
        "socks = ['/var/run/docker.sock', '/run/docker.sock', '/run/containerd/containerd.sock']\n"
        "socks = [p for p in socks if os.path.exists(p)]\n"
        "print(json.dumps({'uid': os.getuid(), 'nnp': st['NoNewPrivs'].strip(), 'socks': socks,\n"
        "                  'capeff': st['CapEff'].strip(), 'capbnd': st['CapBnd'].strip()}))\n",
    )
    assert got["uid"] == 1000 and got["nnp"] == "1", got
    assert int(got["capeff"], 16) == 0 and int(got["capbnd"], 16) == 0, got
    assert got["socks"] == [], got


def test_dataset_is_read_only(eve):
    got = results(
        eve,
        "r = {'listed': len(os.listdir('/data/hst'))}\n"
        "for p in ['/data/hst/evil.txt', '/data/evil.txt']:\n"
        "    try:\n"
        "        open(p, 'w').write('x'); r[p] = 'written'\n"
        "    except OSError as e:\n"
        "        r[p] = errno.errorcode[e.errno]\n"
        "print(json.dumps(r))\n",
    )
    assert got.pop("listed") > 0, got  # control: the dataset is there and readable
    assert set(got.values()) <= {"EROFS", "EACCES"}, got


def test_other_users_server_refuses_my_token(eve, bob):
    r = eve.server("GET", "api/contents/notes.txt")  # eve's own server: no such file
    assert r.status_code == 404
    import requests

    url = f"{bob.base}/user/{bob.name}/api/contents/notes.txt"
    stolen = requests.get(url, headers=eve.auth, timeout=30, allow_redirects=False)
    assert stolen.status_code in (302, 403, 404), stolen.status_code
    assert "bob's notes" not in stolen.text
    # control: bob's own token reads it
    assert bob.read_file("notes.txt") == "bob's notes\n"


def test_user_token_cannot_use_admin_api(eve, bob):
    assert eve.api("GET", "/users").status_code == 403 or "bob" not in eve.api("GET", "/users").text
    # JupyterHub answers 404 for users a token may not see (it does not confirm they exist), 403 otherwise
    assert eve.api("DELETE", f"/users/{bob.name}/server").status_code in (403, 404)
    assert eve.api("POST", "/users/evil-admin-made").status_code == 403
    assert eve.api("PATCH", f"/users/{eve.name}", json={"admin": True}).status_code == 403
    assert eve.model()["admin"] is False
    assert bob.model()["servers"], "bob's server still runs"


# FS_IOC_FSGETXATTR then FS_IOC_FSSETXATTR with what GET returned (no change), through syscall(2) so the
# request number can carry bits above the 32 the kernel reads; prints {request: errno name or "ok"}.
FSXATTR_PROBE = (
    "import ctypes, errno, json, os\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "fd = os.open(PATH, os.O_CREAT | os.O_RDWR, 0o600)\n"
    "buf = ctypes.create_string_buffer(28)\n"
    "out = {}\n"
    "for name, req in (('get', 0x801C581F), ('set', 0x401C5820), ('set_high', 0x1401C5820)):\n"
    "    ctypes.set_errno(0)\n"
    "    rc = libc.syscall(16, fd, ctypes.c_ulong(req), buf)\n"
    "    out[name] = 'ok' if rc == 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))\n"
    "print(json.dumps(out))\n"
)


def test_a_user_cannot_move_a_file_out_of_their_quota_project(eve, host):
    """FS_IOC_FSSETXATTR lets a file's owner change its XFS project id, i.e. leave their home's quota. The
    user servers' seccomp profile refuses it (also with high bits set in the request); reading the attributes
    and every other ioctl still work."""
    got = results(eve, "PATH = os.path.expanduser('~/.fsxattr-probe')\n" + FSXATTR_PROBE)
    assert got["set"] == "EPERM" and got["set_high"] == "EPERM", got
    assert got["get"] != "EPERM", got  # reading is not refused (a filesystem without it says ENOTTY)
    # control: the same probe as the same uid in the same image under Docker's default profile is not refused
    image = host.check_output(f"docker inspect -f '{{{{.Config.Image}}}}' jupyter-{eve.name}")
    code = "PATH = '/var/tmp/fsxattr-probe'\n" + FSXATTR_PROBE
    control = json.loads(
        host.check_output(
            "docker run --rm --user 1000:1000 --cap-drop ALL --security-opt no-new-privileges:true "
            f"--entrypoint python3 {image} -c {shlex.quote(code)}"
        ).splitlines()[-1]
    )
    assert control["set"] != "EPERM" and control["set_high"] != "EPERM", control
