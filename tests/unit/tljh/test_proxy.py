"""The plugin's proxy class (tljh_skyhub.proxy): traefik rules a user name cannot break, and that class is the
one TLJH's own jupyterhub_config.py ends up with."""

from __future__ import annotations

import copy
import sys
import tarfile
import tomllib
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote

import pluggy
import pytest
import traitlets
import yaml
from tljh_skyhub import login, plugin, proxy
from traitlets.config import Config

REPO = Path(__file__).resolve().parents[3]
TLJH_SDIST = REPO.parent / "shared" / "vendor" / "tljh" / "the_littlest_jupyterhub-2.0.0.tar.gz"


class FakeTraefikFileProxy(traitlets.HasTraits):
    """jupyterhub-traefik-proxy 2.1's file provider as the hub's proxy class uses it: the dynamic config
    loaded from the rules file, and upstream's route config (the decoded routespec pasted into the rule)."""

    dynamic_config = traitlets.Dict()
    log = SimpleNamespace(warning=lambda *a: None, error=lambda *a: None)

    @traitlets.default("dynamic_config")
    def _load_dynamic_config(self):
        return copy.deepcopy(self.loaded)

    def __init__(self, loaded=None):
        super().__init__()
        self.loaded = loaded or {}
        self.dumped = []
        self.dynamic_config_handler = SimpleNamespace(atomic_dump=self.dumped.append)

    def _dynamic_config_for_route(self, routespec, target, data):
        rule = f"( PathPrefix(`{unquote(routespec)}`) || Path(`{unquote(routespec).rstrip('/')}`) )"
        routers = {"router_x": {"service": "service_x", "rule": rule, "entryPoints": ["http"]}}
        return {"http": {"routers": routers, "services": {}}}, {"routes": {}}


@pytest.fixture
def traefik_proxy_module(monkeypatch):
    # the hub's environment has jupyterhub-traefik-proxy; here its file provider as the class uses it
    monkeypatch.setitem(sys.modules, "jupyterhub_traefik_proxy", SimpleNamespace())
    monkeypatch.setitem(
        sys.modules,
        "jupyterhub_traefik_proxy.fileprovider",
        SimpleNamespace(TraefikFileProviderProxy=FakeTraefikFileProxy),
    )


@pytest.fixture
def proxy_class(traefik_proxy_module):
    """The proxy class as the plugin configures the hub with it."""
    c = Config()
    plugin.configure(c, {"skyhub": {"seccomp_profile": ""}})
    return c.JupyterHub.proxy_class


@pytest.mark.parametrize(
    ("routespec", "rule"),
    [
        ("/", "PathPrefix(`/`)"),
        ("/user/ann/", "( PathPrefix(`/user/ann/`) || Path(`/user/ann`) )"),
        # JupyterHub quotes names in routes; traefik matches the encoded path: both forms
        (
            "/user/o%27brien/",
            "( PathPrefix(`/user/o'brien/`) || Path(`/user/o'brien`) || "
            "PathPrefix(`/user/o%27brien/`) || Path(`/user/o%27brien`) )",
        ),
        # a backtick never reaches the rule: only the encoded form routes this user
        (
            "/user/x%60)%7C%7Chostregexp(%60.%2B%60)/",
            "( PathPrefix(`/user/x%60)%7C%7Chostregexp(%60.%2B%60)/`) "
            "|| Path(`/user/x%60)%7C%7Chostregexp(%60.%2B%60)`) )",
        ),
        (
            "hub.example.org/user/ann/",
            "Host(`hub.example.org`) && ( PathPrefix(`/user/ann/`) || Path(`/user/ann`) )",
        ),
    ],
)  # fmt: skip
def test_route_rules_match_both_forms_and_never_hold_a_backtick_of_a_name(routespec, rule):
    assert proxy.route_rule(routespec) == rule


def test_route_rule_refuses_what_it_cannot_route():
    for bad in ["/user/ann", "ho`st/user/ann/"]:
        with pytest.raises(ValueError, match="refusing to route"):
            proxy.route_rule(bad)


def test_proxy_uses_the_safe_rule_control_upstream_would_inject(proxy_class):
    """The hub's proxy class replaces upstream's rule; control: upstream's rule for the same name holds the
    attacker's matchers (a rule that routes every request to that user's server)."""
    routespec = "/user/x%60)%7C%7Chostregexp(%60.%2B%60)%7C%7Chostregexp(%60y/"
    upstream, _ = FakeTraefikFileProxy()._dynamic_config_for_route(routespec, "http://t", {})
    assert "hostregexp(`.+`)" in upstream["http"]["routers"]["router_x"]["rule"]  # the control
    config, _ = proxy_class()._dynamic_config_for_route(routespec, "http://t", {})
    rule = config["http"]["routers"]["router_x"]["rule"]
    assert rule == proxy.route_rule(routespec)
    assert "hostregexp(`" not in rule  # the name stays inside one matcher's string, encoded


def test_rules_written_before_the_fix_are_rewritten_when_the_hub_starts(proxy_class):
    """The hub re-adds a route only when its target changes: a rule already in the file (an older release's,
    or an injected one) is rewritten when the proxy loads the file; a route it cannot route is dropped."""
    bad = "( PathPrefix(`/user/x`)||hostregexp(`.+`)||hostregexp(`y/`) )"
    loaded = {
        "http": {
            "routers": {"r1": {"rule": bad, "service": "s1"}, "r2": {"rule": "x", "service": "s2"}},
            "services": {"s1": {}, "s2": {}},
        },
        "jupyterhub": {
            "routes": {
                "r1": {
                    "routespec": "/user/x%60)%7C%7Chostregexp(%60.%2B%60)%7C%7Chostregexp(%60y/",
                    "router": "r1",
                },
                "r2": {"routespec": "ho`st/user/y/", "router": "r2", "service": "s2"},
            }
        },
    }
    hub_proxy = proxy_class(loaded)
    config = hub_proxy.dynamic_config
    rule = config["http"]["routers"]["r1"]["rule"]
    assert rule == proxy.route_rule(loaded["jupyterhub"]["routes"]["r1"]["routespec"])
    assert "r2" not in config["http"]["routers"] and "s2" not in config["http"]["services"]
    assert "r2" not in config["jupyterhub"]["routes"]
    assert hub_proxy.dumped == [config]  # written back, so traefik sees it at once
    # control: a file whose rules are already right is not rewritten
    fine = proxy_class(copy.deepcopy(config))
    assert fine.dynamic_config == config and fine.dumped == []


@pytest.fixture
def tljh_200(tmp_path, monkeypatch, traefik_proxy_module):
    """TLJH 2.0.0's own package (the vendored release) importable, with its install prefix in tmp_path."""
    if not TLJH_SDIST.is_file():
        pytest.skip(f"no {TLJH_SDIST}")
    src = tmp_path / "src"
    with tarfile.open(TLJH_SDIST) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith("the_littlest_jupyterhub-2.0.0/tljh/")]
        tar.extractall(src, members=members, filter="data")
    prefix = tmp_path / "opt"
    monkeypatch.setenv("TLJH_INSTALL_PREFIX", str(prefix))
    monkeypatch.syspath_prepend(str(src / "the_littlest_jupyterhub-2.0.0"))
    # TLJH's spawner module imports systemdspawner (TLJH's default spawner; the plugin replaces it)
    monkeypatch.setitem(sys.modules, "systemdspawner", SimpleNamespace(SystemdSpawner=object))
    cached = [name for name in sys.modules if name == "tljh" or name.startswith("tljh.")]
    for name in cached:
        monkeypatch.delitem(sys.modules, name)
    yield SimpleNamespace(
        prefix=prefix, config=src / "the_littlest_jupyterhub-2.0.0" / "tljh" / "jupyterhub_config.py"
    )
    for name in [name for name in sys.modules if name == "tljh" or name.startswith("tljh.")]:
        del sys.modules[name]


def test_tljh_own_hub_config_ends_with_the_plugin_settings(tljh_200, monkeypatch, tmp_path):
    """TLJH 2.0.0's jupyterhub_config.py sets proxy_class = "traefik_file" and then calls the plugins' hook:
    run it as the hub does, with the plugin found through its `tljh` entry point."""
    entry_points = tomllib.loads((REPO / "plugin" / "pyproject.toml").read_text())["project"]["entry-points"]
    assert entry_points["tljh"] == {"skyhub": "tljh_skyhub.plugin"}

    installed = [plugin]

    def load_setuptools_entrypoints(pm, group, name=None):  # what pip-installing the plugin provides
        assert group == "tljh"
        for module in installed:
            pm.register(module, name="skyhub")
        return len(installed)

    monkeypatch.setattr(pluggy.PluginManager, "load_setuptools_entrypoints", load_setuptools_entrypoints)
    (tljh_200.prefix / "config").mkdir(parents=True)
    (tljh_200.prefix / "config" / "config.yaml").write_text(
        yaml.safe_dump(
            {"limits": {"memory": "1G"}, "skyhub": {"seccomp_profile": "", "active_server_limit": 3}}
        )
    )
    source = tljh_200.config.read_text()

    def hub_config():
        c = Config()
        exec(compile(source, str(tljh_200.config), "exec"), {"get_config": lambda: c, "load_subconfig": None})
        return c

    installed.clear()  # control: without the plugin, TLJH's own proxy class and spawner
    c = hub_config()
    assert (
        c.JupyterHub.proxy_class == "traefik_file"
        and c.JupyterHub.spawner_class.__name__ == "UserCreatingSpawner"
    )
    installed.append(plugin)
    c = hub_config()
    assert c.JupyterHub.proxy_class.__name__ == "SkyhubTraefikProxy"
    assert issubclass(c.JupyterHub.proxy_class, FakeTraefikFileProxy)
    assert c.JupyterHub.spawner_class == "docker"  # not TLJH's UserCreatingSpawner
    assert c.Authenticator.post_auth_hook is login.check_name
    assert c.JupyterHub.active_server_limit == 3  # config.yaml reached the plugin
    # TLJH's settings for its proxy still apply to the subclass (traitlets config follows the class's bases)
    assert c.TraefikFileProviderProxy.dynamic_config_file == str(
        tljh_200.prefix / "state" / "rules" / "rules.toml"
    )
    assert c.TraefikProxy.should_start is False
