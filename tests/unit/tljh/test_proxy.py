"""The plugin's proxy class (tljh_skyhub.proxy): traefik rules a user name cannot break, and that class is the
one TLJH's own jupyterhub_config.py ends up with."""

from __future__ import annotations

import copy
import re
import sys
import tarfile
import tomllib
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote, unquote

import pluggy
import pytest
import traitlets
import yaml
from tljh_skyhub import login, plugin, proxy
from traitlets.config import Config

from skyhub import vendor

REPO = Path(__file__).resolve().parents[3]


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


def test_route_rule_writes_a_safe_rule_for_anything_but_a_routespec_without_its_slash():
    with pytest.raises(ValueError, match="must end with /"):
        proxy.route_rule(
            "/user/ann"
        )  # JupyterHub never makes one (a prefix without it would match /user/anna)
    assert proxy.route_rule("/user/a`b/") == "( PathPrefix(`/user/a%60b/`) || Path(`/user/a%60b`) )"
    assert proxy.route_rule("ho`st/user/ann/").startswith("Host(`ho%60st`) && ")


def _matchers(rule: str) -> list[str]:
    return re.findall(r"(?:PathPrefix|Path|Host)\(`([^`]*)`\)", rule)


def test_route_rules_are_one_to_one_and_survive_the_rules_file_for_every_name():
    """Every name the hub could hold (each code point below U+3000 in a name, and crafted ones): the rule
    holds only printable characters (the rules file's TOML writer mangles U+007F-U+00A0 and U+00AD,
    traefik's raw strings drop CR), each matcher string is one backtick-free string, and no string of one
    user's rule is a string of another's (a soft-hyphen name took alexadams' route before; o%2527brien's
    decoded form is o'brien's encoded path)."""
    names = [f"a{chr(cp)}b" for cp in range(0x3000) if chr(cp) != "/"]
    names += [
        "alexadams",
        "ale\u00adams",
        "o'brien",
        "o%27brien",
        "o%2527brien",
        "an\rn",
        "ann",
        "a&b",
        "a%26b",
    ]
    names += ["x`)||hostregexp(`.+`)||hostregexp(`y", "zoë", "zo%C3%AB"]
    owner: dict[str, str] = {}
    for name in names:
        made = proxy.route_rule(f"/user/{quote(name, safe='@~')}/")
        assert made.isprintable(), repr(name)
        assert made.count("`") == 2 * len(_matchers(made)), repr(name)  # backticks only delimit
        for form in _matchers(made):
            key = form.rstrip("/")
            assert owner.setdefault(key, name) == name, f"{name!r} and {owner[key]!r} share {form!r}"
    # control: upstream's only form, the decoded name, collides and is not printable for these names
    assert unquote(quote("o%27brien", safe="@~")) == quote("o'brien", safe="@~")
    assert not unquote(quote("ale\u00adams", safe="@~")).isprintable()


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
    """The hub re-adds a route only when its target changes: the rules of the routes in the hub's rules file
    (an older release's, upstream's) are rewritten when the proxy loads the file; the hub writes them at
    start."""
    injecting = "/user/x%60)%7C%7Chostregexp(%60.%2B%60)%7C%7Chostregexp(%60y/"
    loaded = {
        "http": {
            "routers": {
                "r1": {
                    "rule": "( PathPrefix(`/user/x`)||hostregexp(`.+`)||hostregexp(`y/`) )",
                    "service": "s1",
                },
                "r2": {"rule": "( PathPrefix(`/user/o'brien/`) || Path(`/user/o'brien`) )", "service": "s2"},
            },
            "services": {"s1": {}, "s2": {}},
        },
        "jupyterhub": {
            "routes": {
                "r1": {"routespec": injecting, "router": "r1", "service": "s1"},
                "r2": {"routespec": "/user/o%27brien/", "router": "r2", "service": "s2"},
            }
        },
    }
    routers = proxy_class(loaded).dynamic_config["http"]["routers"]
    for alias, spec in (("r1", injecting), ("r2", "/user/o%27brien/")):
        assert routers[alias]["rule"] == proxy.route_rule(spec)
    assert "hostregexp(`" not in routers["r1"]["rule"] and "o%27brien" in routers["r2"]["rule"]
    # control: a file whose rules are already right comes back as it was
    again = copy.deepcopy(proxy_class(loaded).dynamic_config)
    assert proxy_class(again).dynamic_config == again


@pytest.fixture
def tljh_200(tmp_path, monkeypatch, traefik_proxy_module):
    """TLJH 2.0.0's own package (the vendored release) importable, with its install prefix in tmp_path."""
    src = tmp_path / "src"
    with tarfile.open(vendor.vendor_path("tljh-archive")) as tar:
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
