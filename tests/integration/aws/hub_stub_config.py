"""A real JupyterHub for the idle-shutdown tests, without a proxy process or Jupyter servers.

The proxy keeps routes in memory and the spawner starts a tiny HTTP server instead of jupyter-server:
the hub's REST API, database, activity tracking and server lifecycle are JupyterHub's own.
Paths come from the environment the test sets.
"""

import os
import threading
import typing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from jupyterhub.proxy import Proxy
from jupyterhub.spawner import Spawner

c = get_config()  # noqa: F821


class MemoryProxy(Proxy):
    should_start = False
    _routes: typing.ClassVar[dict] = {}

    async def add_route(self, routespec, target, data):
        self._routes[routespec] = {"routespec": routespec, "target": target, "data": data}

    async def delete_route(self, routespec):
        self._routes.pop(routespec, None)

    async def get_all_routes(self):
        return dict(self._routes)


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


class StubSpawner(Spawner):
    """Answers HTTP where a single-user server would."""

    _httpd = None

    async def start(self):
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return ("127.0.0.1", self._httpd.server_address[1])

    async def poll(self):
        return None if self._httpd else 0

    async def stop(self, now=False):
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None


state = os.environ["SKYHUB_TEST_HUB_STATE"]
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = int(os.environ["SKYHUB_TEST_HUB_PORT"])
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ["SKYHUB_TEST_HUB_API_PORT"])
c.JupyterHub.db_url = f"sqlite:///{state}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{state}/cookie_secret"
c.JupyterHub.pid_file = f"{state}/jupyterhub.pid"
c.JupyterHub.proxy_class = MemoryProxy
c.JupyterHub.spawner_class = StubSpawner
c.JupyterHub.authenticator_class = "dummy"
c.JupyterHub.cleanup_servers = True
c.JupyterHub.last_activity_interval = 1
c.JupyterHub.services = [{"name": "test-admin", "api_token": os.environ["SKYHUB_TEST_ADMIN_TOKEN"]}]
c.JupyterHub.load_roles = [{"name": "admin", "services": ["test-admin"]}]

# The idle_shutdown role's own snippet, rendered from its template by the test.
load_subconfig(os.environ["SKYHUB_TEST_SNIPPET"])  # noqa: F821
