"""A small client for the hub's real HTTP interfaces (login form, REST API, Jupyter contents API).

Used by the appliance checks against any target: the Molecule test host or an instance booted from the
built image. Only `requests`; no JupyterHub internals.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import quote

import requests


class HubError(AssertionError):
    pass


# Sign-up is closed (the tljh role's default): users log in only after the admin adds them.
ADMIN = "admin"
# Where an image's first boot writes the admin's one-time password (`admin <password>` lines, root only).
ADMIN_PASSWORD_FILE = "/root/skyhub-admin-password"
# The Molecule appliance's admin password: molecule/appliance/molecule.yml gives its bcrypt hash in
# tljh_admin_password_hashes.
APPLIANCE_ADMIN_PASSWORD = "appliance-admin-test-only-password"


def admin_password(password_file_text: str | None = None) -> str:
    """The admin's password: SKYHUB_ADMIN_PASSWORD, else the one-time password from the target's password
    file (an instance of the image), else the Molecule appliance's test password."""
    if os.environ.get("SKYHUB_ADMIN_PASSWORD"):
        return os.environ["SKYHUB_ADMIN_PASSWORD"]
    for line in (password_file_text or "").splitlines():
        name, _, password = line.strip().partition(" ")
        if name == ADMIN and password:
            return password
    return APPLIANCE_ADMIN_PASSWORD


@dataclass
class HubUser:
    base: str
    name: str
    password: str
    session: requests.Session = field(default_factory=requests.Session)
    token: str = ""

    # ---- login (first-use: the first login of a name the admin added sets its password) ----
    def try_login(self) -> requests.Response:
        """POST the login form as a browser does; the hub's answer (302/303 when signed in)."""
        page = self.session.get(f"{self.base}/hub/login", timeout=30)
        page.raise_for_status()
        m = re.search(r'name="_xsrf"\s+value="([^"]+)"', page.text)
        data = {"username": self.name, "password": self.password}
        if m:
            data["_xsrf"] = m.group(1)
        return self.session.post(f"{self.base}/hub/login?next=", data=data, timeout=60, allow_redirects=False)

    def add_users(self, *names: str) -> None:
        """As the admin: add users (closed sign-up: only added names can log in). Present names are fine."""
        r = self.api("POST", "/users", json={"usernames": list(names)})
        if r.status_code not in (201, 409):
            raise HubError(f"admin could not add {names}: HTTP {r.status_code}: {r.text[:300]}")

    def exists(self, name: str) -> bool:
        """As the admin: whether the hub has a user of this name."""
        r = self.api("GET", f"/users/{quote(name, safe='')}")
        if r.status_code not in (200, 404):
            raise HubError(f"admin could not look up {name!r}: HTTP {r.status_code}: {r.text[:300]}")
        return r.status_code == 200

    def login(self) -> None:
        r = self.try_login()
        if r.status_code not in (302, 303):
            raise HubError(f"login of {self.name} failed: HTTP {r.status_code}: {r.text[:300]}")
        xsrf = self.session.cookies.get("_xsrf")
        headers = {"X-XSRFToken": xsrf} if xsrf else {}
        # the name the hub uses (authenticators normalize: JupyterHub lower-cases)
        r = self.session.get(f"{self.base}/hub/api/user", headers=headers, timeout=30)
        if r.status_code == 200:
            self.name = r.json()["name"]
        r = self.session.post(
            f"{self.base}/hub/api/users/{self.name}/tokens",
            json={"note": "skyhub appliance test", "expires_in": 3600},
            headers=headers,
            timeout=30,
        )
        if r.status_code != 201:
            raise HubError(f"token for {self.name}: HTTP {r.status_code}: {r.text[:300]}")
        self.token = r.json()["token"]

    @property
    def url_name(self) -> str:
        """The name as the hub puts it in /user/<name>/ URLs (and the proxy routes them): path-escaped."""
        return quote(self.name, safe="@~")

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def api(self, method: str, path: str, **kw) -> requests.Response:
        return requests.request(method, f"{self.base}/hub/api{path}", headers=self.auth, timeout=60, **kw)

    # ---- the user's server ----
    def model(self) -> dict:
        r = self.api("GET", f"/users/{self.name}")
        r.raise_for_status()
        return r.json()

    def start(self, options: dict | None = None, timeout: float = 180) -> float:
        """Start the server and wait until it answers through the proxy. Returns seconds taken."""
        t0 = time.monotonic()
        r = self.api("POST", f"/users/{self.name}/server", json=options or {})
        if r.status_code not in (201, 202):
            raise HubError(f"start {self.name}: HTTP {r.status_code}: {r.text[:300]}")
        self.wait_ready(timeout - (time.monotonic() - t0))
        return time.monotonic() - t0

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            server = self.model().get("servers", {}).get("", {})
            if server.get("ready"):
                r = self.server("GET", "api/status")
                if r.status_code == 200:
                    return
            elif not server.get("pending") and not server:
                raise HubError(f"server of {self.name} is not starting (it failed or was refused)")
            time.sleep(0.25)
        raise HubError(f"server of {self.name} not ready after {timeout:.0f} s")

    def touch(self) -> None:
        """Report activity for the server, as a notebook in use does (the appliance culler stops servers idle
        for 60 s, and a busy server reports its own activity only every 5 minutes)."""
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        body = {"last_activity": now, "servers": {"": {"last_activity": now}}}
        self.api("POST", f"/users/{self.name}/activity", json=body)  # 400 when no server runs: fine

    def heartbeat(self, every: float = 15.0) -> threading.Event:
        """touch() every `every` seconds from a background thread until the returned event is set."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(every):
                with contextlib.suppress(requests.RequestException):
                    self.touch()

        threading.Thread(target=beat, daemon=True).start()
        return stop

    def keep_up(self) -> None:
        """touch(), and start the server again if the culler stopped it anyway."""
        self.touch()
        server = self.model().get("servers", {}).get("", {})
        if server.get("ready"):
            return
        if server.get("pending"):
            self.wait_ready()
        else:
            self.start()

    def stop(self, timeout: float = 120) -> None:
        r = self.api("DELETE", f"/users/{self.name}/server")
        if r.status_code not in (202, 204):
            raise HubError(f"stop {self.name}: HTTP {r.status_code}: {r.text[:300]}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.model().get("servers"):
                return
            time.sleep(0.5)
        raise HubError(f"server of {self.name} did not stop in {timeout:.0f} s")

    def server(self, method: str, path: str, **kw) -> requests.Response:
        """A request to the user's own server, through the proxy."""
        return requests.request(
            method, f"{self.base}/user/{self.url_name}/{path}", headers=self.auth, timeout=60, **kw
        )

    def write_file(self, path: str, text: str) -> None:
        body = {"type": "file", "format": "text", "content": text}
        r = self.server("PUT", f"api/contents/{path}", json=body)
        if r.status_code not in (200, 201):
            raise HubError(f"write {path}: HTTP {r.status_code}: {r.text[:300]}")

    def read_file(self, path: str) -> str | None:
        r = self.server("GET", f"api/contents/{path}?content=1&type=file&format=text")
        if r.status_code == 404:
            return None
        r.raise_for_status()
        return r.json()["content"]

    def list_dir(self, path: str = "") -> list[str]:
        r = self.server("GET", f"api/contents/{path}")
        r.raise_for_status()
        return [item["name"] for item in r.json()["content"]]


def sign_in_admin(base: str, password: str) -> HubUser:
    """The admin, signed in with its password and holding an API token (which can add users)."""
    admin = HubUser(base, ADMIN, password)
    admin.login()
    return admin


def added_user(admin: HubUser, name: str, password: str) -> HubUser:
    """A user the admin adds, who then signs in through the login form (setting the password: first use)."""
    admin.add_users(name)
    user = HubUser(admin.base, name, password)
    user.login()
    return user


def run_code(user: HubUser, code: str, timeout: float = 120) -> str:
    """Run code in a new kernel of the user's own server (REST + the kernel websocket), as a notebook
    would; return everything it printed. Raises HubError on an exception in the code."""
    import json
    import uuid

    import websocket

    user.keep_up()
    r = user.server("POST", "api/kernels", json={"name": "python3"})
    if r.status_code not in (200, 201):
        raise HubError(f"kernel start for {user.name}: HTTP {r.status_code}: {r.text[:300]}")
    kernel = r.json()["id"]
    ws_url = user.base.replace("http://", "ws://").replace("https://", "wss://")
    ws = websocket.create_connection(
        f"{ws_url}/user/{user.url_name}/api/kernels/{kernel}/channels",
        header=[f"Authorization: token {user.token}"],
        timeout=timeout,
    )
    msg_id = uuid.uuid4().hex
    ws.send(
        json.dumps(
            {
                "header": {
                    "msg_id": msg_id,
                    "username": user.name,
                    "session": uuid.uuid4().hex,
                    "msg_type": "execute_request",
                    "version": "5.3",
                },
                "parent_header": {},
                "metadata": {},
                "content": {
                    "code": code,
                    "silent": False,
                    "store_history": False,
                    "user_expressions": {},
                    "allow_stdin": False,
                },
                "channel": "shell",
            }
        )
    )
    out: list[str] = []
    error = None
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            msg = json.loads(ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out.append(content["text"])
            elif kind == "error":
                error = f"{content['ename']}: {content['evalue']}"
            elif kind == "status" and content["execution_state"] == "idle":
                break
        else:
            raise HubError(f"code did not finish in {timeout:.0f} s")
    finally:
        ws.close()
        user.server("DELETE", f"api/kernels/{kernel}")
    if error:
        raise HubError(f"code raised {error}; output: {''.join(out)[-500:]}")
    return "".join(out)
