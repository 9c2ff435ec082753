"""The tljh role's hub config code: the offline configurer, the spawner snippet."""

from __future__ import annotations

import asyncio
import copy
import importlib.util
import json
import os
import re
import sys
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote, unquote

import jinja2
import pytest
import traitlets
import yaml
from traitlets.config import Config

from skyhub import safehome

ROLE = Path(__file__).resolve().parents[3] / "roles" / "tljh"


def _load_configurer():
    spec = importlib.util.spec_from_file_location("skyhub_tljh", ROLE / "files" / "skyhub_tljh.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


tljh = _load_configurer()


def test_defaults_match_tljh_200_culler_and_auth():
    c = Config()
    tljh.apply_config({}, c)
    assert c.JupyterHub.authenticator_class == "firstuseauthenticator.FirstUseAuthenticator"
    assert c.FirstUseAuthenticator.allow_all is True
    svc = c.JupyterHub.services[0]
    assert "--timeout=600" in svc["command"] and "--cull-every=60" in svc["command"]


def test_config_yaml_keys_are_applied(tmp_path):
    cfg_file = tmp_path / "config.yaml"
    cfg_file.write_text(
        yaml.safe_dump(
            {
                "users": {"admin": ["ann"]},
                "auth": {
                    "type": "oauthenticator.github.GitHubOAuthenticator",
                    "GitHubOAuthenticator": {
                        "client_id": "id",
                        "client_secret": "s3",
                        "allowed_organizations": ["o"],
                    },
                },
                "limits": {"memory": "3G", "cpu": 1.5},
                "services": {"cull": {"timeout": 1800, "every": 120, "max_age": 7200}},
                "https": {"enabled": True},
            }
        )
    )
    (tmp_path / "traefik-api.secret").write_text("pw")
    c = Config()
    tljh.apply_config(tljh.load_config(str(cfg_file), str(tmp_path)), c)
    assert c.JupyterHub.authenticator_class == "oauthenticator.github.GitHubOAuthenticator"
    assert c.GitHubOAuthenticator.client_secret == "s3"
    assert c.Authenticator.admin_users == {"ann"}
    assert c.Spawner.mem_limit == "3G" and c.Spawner.cpu_limit == 1.5
    assert c.TraefikProxy.traefik_api_password == "pw"
    assert c.TraefikProxy.traefik_entrypoint == "https"
    cmd = c.JupyterHub.services[0]["command"]
    assert {"--timeout=1800", "--cull-every=120", "--max-age=7200"} <= set(cmd)
    role = c.JupyterHub.load_roles[0]
    assert role["services"] == ["cull-idle"] and "delete:servers" in role["scopes"]
    assert "admin" not in c.JupyterHub.services[0]


def test_bad_auth_section_is_an_error():
    with pytest.raises(ValueError, match=r"auth\.client_id"):
        tljh.apply_config({"auth": {"type": "x", "client_id": "oops"}}, Config())


def test_culler_can_be_disabled():
    c = Config()
    tljh.apply_config({"services": {"cull": {"enabled": False}}}, c)
    assert "services" not in c.JupyterHub


# ---- the DockerSpawner snippet, rendered as the role renders it ----

VARS = {
    "ansible_managed": "test",
    "_tljh_home_root": None,  # set per test
    "tljh_skel_dir": None,
    "tljh_container_home": "/home/jovyan",
    "tljh_container_uid": 1000,
    "tljh_container_gid": 100,
    "_tljh_limits": {
        "default": {"mem_limit": "2G", "cpu_limit": 1.0},
        "groups": {
            "big": {"mem_limit": "8G", "cpu_limit": 2.0},
            "wide": {"mem_limit": "4G", "cpu_limit": 4.0},
        },
        "users": {"vip": {"mem_limit": "16G"}},
    },
    "_tljh_allowed_images": {"astro": "skyhub/astro:1", "minimal": "skyhub/minimal:1"},
    "_tljh_hub_ip": "172.29.0.1",
    "tljh_concurrent_spawn_limit": 5,
    "tljh_spawner_default_image": "astro",
    "tljh_spawner_network": "skyhub",
    "tljh_spawner_pids_limit": 512,
    "tljh_spawner_seccomp_profile": "",
    "tljh_spawner_read_only_root": True,
    "tljh_spawner_tmp_size": "256M",
    "tljh_active_server_limit": 0,
    "tljh_host_reserved_memory": "2G",
    "tljh_spawner_start_timeout": 60,
    "tljh_spawner_http_timeout": 60,
}


class FakeWeb:
    """tornado.web's HTTPError and Finish as the login hook uses them (tornado is the hub's)."""

    class HTTPError(Exception):
        def __init__(self, status_code, log_message):
            super().__init__(log_message)
            self.status_code = status_code

    class Finish(Exception):
        pass


class FakeLoginHandler:
    """JupyterHub's login form handler as the hook uses it: a status and the form rendered with an error."""

    status = 200

    def set_status(self, status):
        self.status = status

    async def _render(self, login_error=None, username=None):
        return f"<form>{username}: {login_error}</form>"


class FakeOAuthHandler:
    """Any other handler (an OAuth callback): no login form to show."""


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
        from urllib.parse import unquote

        rule = f"( PathPrefix(`{unquote(routespec)}`) || Path(`{unquote(routespec).rstrip('/')}`) )"
        routers = {"router_x": {"service": "service_x", "rule": rule, "entryPoints": ["http"]}}
        return {"http": {"routers": routers, "services": {}}}, {"routes": {}}


@pytest.fixture
def snippet(tmp_path, monkeypatch):
    # the hub's environment has these; here: skyhub's own module, and DockerSpawner's escaping of names
    # (one-to-one: every character outside a-z0-9 becomes -XX; its real code runs on the appliance)
    monkeypatch.setitem(sys.modules, "skyhub_safehome", safehome)
    monkeypatch.setattr(safehome, "CHILD_PYTHON", "/usr/bin/python3")
    escape = lambda s: "".join(c if c.isascii() and c.isalnum() else f"-{ord(c):02x}" for c in s)  # noqa: E731
    monkeypatch.setitem(
        sys.modules, "dockerspawner", SimpleNamespace(DockerSpawner=SimpleNamespace(_escape=escape))
    )
    monkeypatch.setitem(sys.modules, "tornado", SimpleNamespace(web=FakeWeb))
    monkeypatch.setitem(sys.modules, "jupyterhub", SimpleNamespace())
    monkeypatch.setitem(sys.modules, "jupyterhub_traefik_proxy", SimpleNamespace())
    monkeypatch.setitem(
        sys.modules,
        "jupyterhub_traefik_proxy.fileprovider",
        SimpleNamespace(TraefikFileProviderProxy=FakeTraefikFileProxy),
    )
    monkeypatch.setitem(sys.modules, "jupyterhub.handlers", SimpleNamespace())
    monkeypatch.setitem(
        sys.modules, "jupyterhub.handlers.login", SimpleNamespace(LoginHandler=FakeLoginHandler)
    )
    home, skel = tmp_path / "home", tmp_path / "skel"
    home.mkdir()
    skel.mkdir()
    return load_snippet(home, skel)


def load_snippet(home: Path, skel: Path, **overrides) -> SimpleNamespace:
    """The rendered snippet, run as the hub runs it (the `snippet` fixture's fakes must be in place)."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters["to_json"] = json.dumps
    env.filters["int"] = int
    text = env.from_string((ROLE / "templates" / "10-skyhub-spawner.py.j2").read_text()).render(
        **{**VARS, "_tljh_home_root": str(home), "tljh_skel_dir": str(skel), **overrides}
    )
    c = Config()
    ns = {"get_config": lambda: c}
    exec(compile(text, "10-skyhub-spawner.py", "exec"), ns)
    return SimpleNamespace(c=c, ns=ns, home=home, skel=skel)


def test_spawner_settings(snippet):
    c = snippet.c
    assert c.JupyterHub.spawner_class == "docker"
    assert c.JupyterHub.hub_ip == "172.29.0.1" and c.JupyterHub.hub_connect_ip == "172.29.0.1"
    assert c.DockerSpawner.allowed_images == {"astro": "skyhub/astro:1", "minimal": "skyhub/minimal:1"}
    assert c.DockerSpawner.image == "skyhub/astro:1"
    assert c.DockerSpawner.remove is True
    host_cfg = c.DockerSpawner.extra_host_config
    assert host_cfg["security_opt"] == ["no-new-privileges:true"] and host_cfg["cap_drop"] == ["ALL"]
    assert not any("docker.sock" in k for k in c.DockerSpawner.volumes)
    assert c.DockerSpawner.extra_create_kwargs["user"] == "1000:100"
    assert host_cfg["read_only"] is True and host_cfg["tmpfs"] == {"/tmp": "rw,nosuid,nodev,size=256M"}
    assert c.JupyterHub.active_server_limit >= 1
    assert c.JupyterHub.concurrent_spawn_limit == 5


@pytest.mark.parametrize(
    ("user", "groups", "mem", "cpu"),
    [
        ("ann", [], "2G", 1.0),
        ("ann", ["big"], "8G", 2.0),
        ("ann", ["big", "wide"], "8G", 4.0),  # the largest of each setting
        ("vip", ["wide"], "16G", 4.0),  # user override wins where it sets something
        ("ann", ["unknown"], "2G", 1.0),
    ],
)
def test_effective_limits(snippet, user, groups, mem, cpu):
    limits = snippet.ns["effective_limits"](user, groups)
    assert limits["mem_limit"] == mem and float(limits["cpu_limit"]) == cpu


def _spawner(snippet, name="ann", groups=()):
    log = SimpleNamespace(info=lambda *a: None)
    user = SimpleNamespace(name=name, groups=[SimpleNamespace(name=g) for g in groups])
    spawner = SimpleNamespace(escaped_name=name, user=user, log=log, mem_limit=None)
    return spawner, snippet.home / name


@pytest.mark.skipif(os.geteuid() != 0, reason="the hook hands homes to uid 1000: needs root, as the hub")
def test_pre_spawn_creates_home_copies_skel_once_and_never_overwrites(snippet):
    os.chmod(snippet.home.parent, 0o755)
    (snippet.skel / "demo").mkdir()
    (snippet.skel / "demo" / "intro.ipynb").write_text("v1")
    (snippet.skel / "README.md").write_text("readme")
    spawner, home = _spawner(snippet, groups=["big"])
    asyncio.run(snippet.ns["skyhub_pre_spawn"](spawner))
    assert (home / "demo" / "intro.ipynb").read_text() == "v1"
    assert home.stat().st_uid == 1000 and (home / "demo" / "intro.ipynb").stat().st_uid == 1000
    assert spawner.mem_limit == "8G" and spawner.cpu_limit == 2.0
    # the user edits one file and deletes another: neither is touched on the next spawn
    (home / "demo" / "intro.ipynb").write_text("mine")
    (home / "README.md").unlink()
    (snippet.skel / "new.txt").write_text("new content")
    asyncio.run(snippet.ns["skyhub_pre_spawn"](spawner))
    assert (home / "demo" / "intro.ipynb").read_text() == "mine"
    assert not (home / "README.md").exists()
    assert (home / "new.txt").read_text() == "new content"  # content added later still arrives


def test_derived_server_limit_follows_memory(snippet, tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       25165824 kB\nMemFree: 1 kB\n")  # 24 GiB
    snippet.ns["host_memory_bytes"].__defaults__ = (str(meminfo),)
    assert snippet.ns["derived_active_server_limit"]() == (24 - 2) // 2


def test_login_refuses_names_too_long_for_a_home_or_with_control_characters_and_keeps_others(snippet):
    def check(name, handler):
        log = SimpleNamespace(warning=lambda *a: None)
        return asyncio.run(snippet.ns["skyhub_check_name"](SimpleNamespace(log=log), handler, {"name": name}))

    for name in ["jane.doe@example.org", "o'brien", "zoë", "x" * 48, "a+b", "(x)|y"]:
        assert check(name, FakeLoginHandler()) == {"name": name}
    for name in ["x`)||hostregexp(`.+`)||hostregexp(`y", "50%", "a;b", "a?b", "a#b", "a\\b"]:
        with pytest.raises(FakeWeb.Finish) as done:
            check(name, FakeLoginHandler())
        assert "cannot route" in done.value.args[0], name
    # the login form comes back with the reason (not an error page: see the hook)
    form = FakeLoginHandler()
    with pytest.raises(FakeWeb.Finish) as done:
        check("é" * 80, form)
    assert form.status == 403 and "too long" in done.value.args[0]
    with pytest.raises(FakeWeb.Finish) as done:
        check("ann\x01", FakeLoginHandler())
    assert "control or invisible characters" in done.value.args[0]
    for name in ["ale\u00adams", "ann\x90", "a\u00a0b", "a\u2028b", "a\ufeffb"]:  # invisible ones too
        with pytest.raises(FakeWeb.Finish) as done:
            check(name, FakeLoginHandler())
        assert "invisible" in done.value.args[0], repr(name)
    # other handlers (OAuth callbacks): JupyterHub's error page with the reason
    with pytest.raises(FakeWeb.HTTPError, match="too long") as err:
        check("é" * 80, FakeOAuthHandler())
    assert err.value.status_code == 403


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
def test_route_rules_match_both_forms_and_never_hold_a_backtick_of_a_name(snippet, routespec, rule):
    assert snippet.ns["skyhub_route_rule"](routespec) == rule


def test_route_rule_writes_a_safe_rule_for_anything_but_a_routespec_without_its_slash(snippet):
    rule = snippet.ns["skyhub_route_rule"]
    with pytest.raises(ValueError, match="must end with /"):
        rule("/user/ann")  # JupyterHub never makes one (a prefix without it would match /user/anna)
    assert rule("/user/a`b/") == "( PathPrefix(`/user/a%60b/`) || Path(`/user/a%60b`) )"
    assert rule("ho`st/user/ann/").startswith("Host(`ho%60st`) && ")


def _matchers(rule: str) -> list[str]:
    return re.findall(r"(?:PathPrefix|Path|Host)\(`([^`]*)`\)", rule)


def test_route_rules_are_one_to_one_and_survive_the_rules_file_for_every_name(snippet):
    """Every name the hub could hold (each code point below U+3000 in a name, and crafted ones): the rule
    holds only printable characters (the rules file's TOML writer mangles U+007F-U+00A0 and U+00AD,
    traefik's raw strings drop CR), each matcher string is one backtick-free string, and no string of one
    user's rule is a string of another's (a soft-hyphen name took alexadams' route before; o%2527brien's
    decoded form is o'brien's encoded path)."""
    rule = snippet.ns["skyhub_route_rule"]
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
        made = rule(f"/user/{quote(name, safe='@~')}/")
        assert made.isprintable(), repr(name)
        assert made.count("`") == 2 * len(_matchers(made)), repr(name)  # backticks only delimit
        for form in _matchers(made):
            key = form.rstrip("/")
            assert owner.setdefault(key, name) == name, f"{name!r} and {owner[key]!r} share {form!r}"
    # control: upstream's only form, the decoded name, collides and is not printable for these names
    assert unquote(quote("o%27brien", safe="@~")) == quote("o'brien", safe="@~")
    assert not unquote(quote("ale\u00adams", safe="@~")).isprintable()


def test_proxy_uses_the_safe_rule_control_upstream_would_inject(snippet):
    """The hub's proxy class replaces upstream's rule; control: upstream's rule for the same name holds the
    attacker's matchers (a rule that routes every request to that user's server)."""
    routespec = "/user/x%60)%7C%7Chostregexp(%60.%2B%60)%7C%7Chostregexp(%60y/"
    upstream, _ = FakeTraefikFileProxy()._dynamic_config_for_route(routespec, "http://t", {})
    assert "hostregexp(`.+`)" in upstream["http"]["routers"]["router_x"]["rule"]  # the control
    proxy = snippet.c.JupyterHub.proxy_class()
    config, _ = proxy._dynamic_config_for_route(routespec, "http://t", {})
    rule = config["http"]["routers"]["router_x"]["rule"]
    assert rule == snippet.ns["skyhub_route_rule"](routespec)
    assert "hostregexp(`" not in rule  # the name stays inside one matcher's string, encoded


def test_rules_written_before_the_fix_are_rewritten_when_the_hub_starts(snippet):
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
    proxy = snippet.c.JupyterHub.proxy_class(loaded)
    routers = proxy.dynamic_config["http"]["routers"]
    for alias, spec in (("r1", injecting), ("r2", "/user/o%27brien/")):
        assert routers[alias]["rule"] == snippet.ns["skyhub_route_rule"](spec)
    assert "hostregexp(`" not in routers["r1"]["rule"] and "o%27brien" in routers["r2"]["rule"]
    # control: a file whose rules are already right comes back as it was
    again = copy.deepcopy(proxy.dynamic_config)
    assert snippet.c.JupyterHub.proxy_class(again).dynamic_config == again


def test_user_servers_get_the_seccomp_profile_and_the_hub_refuses_to_start_without_it(snippet, tmp_path):
    # control: without a profile set, user servers get Docker's default (no seccomp option)
    assert snippet.c.DockerSpawner.extra_host_config["security_opt"] == ["no-new-privileges:true"]
    profile = tmp_path / "seccomp.json"
    profile.write_text('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []}')
    hub = load_snippet(snippet.home, snippet.skel, tljh_spawner_seccomp_profile=str(profile))
    assert hub.c.DockerSpawner.extra_host_config["security_opt"] == [
        "no-new-privileges:true",
        'seccomp={"defaultAction":"SCMP_ACT_ERRNO","syscalls":[]}',
    ]
    profile.unlink()
    with pytest.raises(FileNotFoundError):  # fail closed: no hub without the profile
        load_snippet(snippet.home, snippet.skel, tljh_spawner_seccomp_profile=str(profile))
