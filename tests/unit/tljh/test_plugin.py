"""The skyhub TLJH plugin: settings in config.yaml, the spawner it configures, config.yaml ownership."""

from __future__ import annotations

import asyncio
import os
from types import SimpleNamespace

import pytest
from tljh_skyhub import apply, install, safehome, settings, spawner
from traitlets.config import Config

IMAGES = [
    {"name": "astro", "image": "skyhub/astro:1", "description": "Astronomy"},
    {"name": "minimal", "image": "skyhub/minimal:1", "description": "Minimal"},
]


def config(**skyhub):
    return {
        "limits": {"memory": "2G", "cpu": 1},
        "skyhub": {
            "images": IMAGES,
            "default_image": "astro",
            "limits": {
                "groups": {
                    "big": {"mem_limit": "8G", "cpu_limit": 2.0},
                    "wide": {"mem_limit": "4G", "cpu_limit": 4},
                },
                "users": {"vip": {"mem_limit": "16G"}},
            },
            "pids_limit": 512,
            # none here: test_user_servers_get_the_seccomp_profile... gives one
            "seccomp_profile": "",
            "concurrent_spawn_limit": 5,
            **skyhub,
        },
    }


@pytest.mark.parametrize(
    ("size", "expected"),
    [("2G", 2 * 1024**3), ("512M", 512 * 1024**2), ("1.5g", int(1.5 * 1024**3)), ("100", 100), (4096, 4096)],
)
def test_sizes_read_as_docker_reads_them(size, expected):
    assert settings.to_bytes(size) == expected


@pytest.mark.parametrize("size", ["lots", "2X", "", "-1G", True])
def test_bad_sizes_are_refused(size):
    with pytest.raises(settings.SettingsError, match="not a size"):
        settings.to_bytes(size)


@pytest.mark.parametrize(
    ("user", "groups", "mem", "cpu"),
    [
        ("ann", [], "2G", 1.0),
        ("ann", ["big"], "8G", 2.0),
        ("ann", ["big", "wide"], "8G", 4.0),  # the largest of each setting among the user's groups
        ("vip", ["wide"], "16G", 4.0),  # the user's override wins where it sets something
        ("ann", ["unknown"], "2G", 1.0),
    ],
)
def test_limit_precedence(user, groups, mem, cpu):
    s = settings.skyhub_settings(config())
    limits = settings.effective_limits(settings.tljh_default_limits(config()), s["limits"], user, groups)
    assert limits["mem_limit"] == mem and float(limits["cpu_limit"]) == cpu


def test_no_tljh_limits_means_no_default_limit():
    limits = settings.effective_limits(settings.tljh_default_limits({}), {}, "ann", [])
    assert limits == {"mem_limit": None, "cpu_limit": None}


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        ({"default_image": "gpu"}, "skyhub.default_image"),
        ({"images": [{"name": "x", "image": "noTag"}]}, r"skyhub.images\[0\].image"),
        ({"images": [IMAGES[0], IMAGES[0]]}, "repeated names"),
        ({"limits": {"groups": {"g": {"memory": "1G"}}, "users": {}}}, "skyhub.limits.groups.g"),
        (
            {"limits": {"groups": {}, "users": {"u": {"mem_limit": "lots"}}}},
            "skyhub.limits.users.u.mem_limit",
        ),
        ({"limits": {"groups": {"g": {"cpu_limit": 0}}, "users": {}}}, "skyhub.limits.groups.g.cpu_limit"),
        ({"pids_limit": "many"}, "skyhub.pids_limit"),
        ({"homes": {"root": "relative"}}, "skyhub.homes.root"),
        ({"seccomp_profile": "seccomp.json"}, "skyhub.seccomp_profile"),
        ({"seccomp_profile": None}, "skyhub.seccomp_profile"),
        ({"colour": "blue"}, "skyhub.colour"),
    ],
)
def test_bad_settings_name_the_key(bad, named):
    with pytest.raises(settings.SettingsError, match=named):
        settings.skyhub_settings(config(**bad))


def test_spawner_settings():
    c = Config()
    spawner.configure(c, config())
    assert c.JupyterHub.spawner_class == "docker"
    assert c.JupyterHub.hub_ip == "172.29.0.1" and c.JupyterHub.hub_connect_ip == "172.29.0.1"
    assert c.DockerSpawner.allowed_images == {"astro": "skyhub/astro:1", "minimal": "skyhub/minimal:1"}
    assert c.DockerSpawner.image == "skyhub/astro:1"
    assert c.DockerSpawner.remove is True and c.DockerSpawner.pull_policy == "never"
    host_cfg = c.DockerSpawner.extra_host_config
    assert host_cfg["security_opt"] == ["no-new-privileges:true"] and host_cfg["cap_drop"] == ["ALL"]
    assert host_cfg["pids_limit"] == 512
    # user servers are the OOM killer's first choice (the hub and traefik run at -500)
    assert host_cfg["oom_score_adj"] == 500
    assert not any("docker.sock" in k for k in c.DockerSpawner.volumes)
    assert c.DockerSpawner.volumes == {"/srv/skyhub/home/{username}": {"bind": "/home/jovyan", "mode": "rw"}}
    assert c.DockerSpawner.extra_create_kwargs["user"] == "1000:100"
    assert c.JupyterHub.concurrent_spawn_limit == 5


def test_defaults_alone_configure_a_hub(tmp_path, monkeypatch):
    # the default seccomp profile is the docker role's file; here one at a temporary path
    assert settings.DEFAULTS["seccomp_profile"] == "/etc/skyhub/seccomp-user-servers.json"
    profile = tmp_path / "seccomp.json"
    profile.write_text('{"defaultAction": "SCMP_ACT_ERRNO"}')
    monkeypatch.setitem(settings.DEFAULTS, "seccomp_profile", str(profile))
    c = Config()
    spawner.configure(c, {})
    assert c.DockerSpawner.image == settings.DEFAULTS["images"][0]["image"]
    assert 'seccomp={"defaultAction":"SCMP_ACT_ERRNO"}' in c.DockerSpawner.extra_host_config["security_opt"]


def test_user_servers_get_the_seccomp_profile_and_the_hub_refuses_to_start_without_it(tmp_path):
    profile = tmp_path / "seccomp.json"
    profile.write_text('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []}')
    c = Config()
    spawner.configure(c, config(seccomp_profile=str(profile)))
    assert c.DockerSpawner.extra_host_config["security_opt"] == [
        "no-new-privileges:true",
        'seccomp={"defaultAction":"SCMP_ACT_ERRNO","syscalls":[]}',
    ]
    # control: set to "" (Docker's default profile), user servers get no profile of the hub's
    c = Config()
    spawner.configure(c, config(seccomp_profile=""))
    assert c.DockerSpawner.extra_host_config["security_opt"] == ["no-new-privileges:true"]
    # fail closed: no hub without the profile, nor with one that is not JSON
    profile.write_text("{not json")
    with pytest.raises(settings.SettingsError, match=r"skyhub\.seccomp_profile: cannot read"):
        spawner.configure(Config(), config(seccomp_profile=str(profile)))
    profile.unlink()
    with pytest.raises(settings.SettingsError, match="the hub does not start without it"):
        spawner.configure(Config(), config(seccomp_profile=str(profile)))


def test_bad_settings_stop_the_hub_config():
    with pytest.raises(settings.SettingsError):
        spawner.configure(Config(), config(default_image="nope"))


@pytest.fixture
def homes(tmp_path, monkeypatch):
    if os.geteuid() != 0:
        pytest.skip("needs root (the hub runs as root and hands homes to uid 1000)")
    # the venv's interpreter may live under /root (not executable by uid 1000); Debian's is
    monkeypatch.setattr(safehome, "CHILD_PYTHON", "/usr/bin/python3")
    os.chmod(tmp_path, 0o755)
    root, skel = tmp_path / "home", tmp_path / "skel"
    root.mkdir(mode=0o755)
    (skel / "demo").mkdir(parents=True)
    (skel / "demo" / "intro.ipynb").write_text("v1")
    return SimpleNamespace(root=root, skel=skel)


def _spawner(homes, name="ann", groups=()):
    user = SimpleNamespace(name=name, groups=[SimpleNamespace(name=g) for g in groups])
    log = SimpleNamespace(info=lambda *a: None)
    return SimpleNamespace(
        escaped_name=name, user=user, log=log, mem_limit=None, cpu_limit=None
    ), homes.root / name


def test_pre_spawn_makes_the_home_fills_it_once_and_sets_limits(homes):
    c = Config()
    spawner.configure(
        c, config(homes={"root": str(homes.root), "skel": str(homes.skel), "uid": 1000, "gid": 100})
    )
    hook = c.Spawner.pre_spawn_hook
    sp, home = _spawner(homes, groups=["big"])
    asyncio.run(hook(sp))
    assert home.stat().st_uid == 1000 and (home / "demo" / "intro.ipynb").read_text() == "v1"
    assert (home / "demo" / "intro.ipynb").stat().st_uid == 1000
    assert sp.mem_limit == "8G" and sp.cpu_limit == 2.0
    # the user edits one file and deletes another: neither is touched on the next spawn
    (home / "demo" / "intro.ipynb").write_text("mine")
    (homes.skel / "new.txt").write_text("new content")
    asyncio.run(hook(sp))
    assert (home / "demo" / "intro.ipynb").read_text() == "mine"
    assert (home / "new.txt").read_text() == "new content"  # content added later still arrives
    (home / "new.txt").unlink()
    asyncio.run(hook(sp))
    assert not (home / "new.txt").exists()  # a file the user deleted is not brought back


def test_pre_spawn_refuses_a_name_that_is_not_one_path_component(homes):
    c = Config()
    spawner.configure(c, config(homes={"root": str(homes.root), "skel": str(homes.skel)}))
    sp, _ = _spawner(homes, name="..")
    with pytest.raises(safehome.HomeError, match="not a usable home directory name"):
        asyncio.run(c.Spawner.pre_spawn_hook(sp))


def test_read_only_image_with_a_sized_tmp_and_it_can_be_turned_off():
    c = Config()
    spawner.configure(c, config(tmp_size="256M"))
    host_cfg = c.DockerSpawner.extra_host_config
    assert host_cfg["read_only"] is True and host_cfg["tmpfs"] == {"/tmp": "rw,nosuid,nodev,size=256M"}
    c = Config()
    spawner.configure(c, config(read_only_root=False))
    assert "read_only" not in c.DockerSpawner.extra_host_config


def test_server_limit_given_or_derived_from_memory(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       25165824 kB\nMemFree: 1 kB\n")  # 24 GiB
    s = settings.skyhub_settings(config())
    assert settings.active_server_limit(s, "2G", str(meminfo)) == (24 - 2) // 2
    assert settings.active_server_limit(s, None, str(meminfo)) == 0  # no memory limit: no derived limit
    assert settings.active_server_limit(settings.skyhub_settings(config(active_server_limit=7)), "2G") == 7
    c = Config()
    spawner.configure(c, config())
    assert c.JupyterHub.active_server_limit >= 1


# ---- config.yaml ownership (skyhub-tljh-apply) ----


def test_role_keys_are_written_back_and_other_keys_kept():
    current = {
        "limits": {"memory": "768M", "cpu": 1},  # changed by hand: the role owns it
        "services": {"cull": {"users": True, "timeout": 10}},  # users: the admin's; timeout: the role's
        "skyhub": {"limits": {"users": {"bob": {"mem_limit": "9G"}}, "groups": {}}},
        "auth": {"type": "x", "XAuthenticator": {"a": 1}},
    }
    desired = {
        "limits": {"memory": "1G", "cpu": 1},
        "services": {"cull": {"timeout": 60}},
        "skyhub": {"limits": {"users": {}, "groups": {"big": {"mem_limit": "4G"}}}},
        "auth": {"type": "firstuseauthenticator.FirstUseAuthenticator"},
    }
    before = apply._plain(current)
    apply.merge_owned(current, desired)
    assert current["limits"]["memory"] == "1G"
    assert current["services"]["cull"] == {"users": True, "timeout": 60}
    assert current["skyhub"]["limits"]["users"] == {}  # a table of names is the role's whole
    assert current["auth"] == {"type": "firstuseauthenticator.FirstUseAuthenticator"}
    keys = apply.changed_keys(before, apply._plain(current))
    assert "limits.memory" in keys and "services.cull.timeout" in keys and "services.cull.users" not in keys


def test_offline_installer_leaves_out_exactly_the_two_downloads(capsys):
    install.main(["--list-steps"])
    upstream = capsys.readouterr().out.split()
    install.main(["--no-downloads", "--list-steps"])
    offline = capsys.readouterr().out.split()
    assert set(upstream) - set(offline) == {"ensure_user_environment", "ensure_traefik_binary"}
    assert set(offline) - set(upstream) == {"check_traefik_binary"}
    for step in (
        "ensure_config_yaml",
        "ensure_jupyterhub_package",
        "ensure_jupyterhub_service",
        "ensure_symlinks",
    ):
        assert step in offline


def test_spawn_form_explains_each_image():
    c = Config()
    imgs = [
        {"name": "astro", "image": "skyhub/astro:2026.11.0", "description": "Astronomy <stack>"},
        {"name": "minimal", "image": "skyhub/minimal:1", "display_name": "Bare", "version": "1.0-rc"},
    ]
    spawner.configure(c, config(images=imgs, default_image="minimal"))
    form = c.DockerSpawner.options_form
    assert 'name="image"' in form
    assert '<option value="astro">astro (2026.11.0)</option>' in form
    assert '<option value="minimal" selected>Bare (1.0-rc)</option>' in form
    assert "Astronomy &lt;stack&gt;" in form and "<stack>" not in form  # descriptions are escaped
