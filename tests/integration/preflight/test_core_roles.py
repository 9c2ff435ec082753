"""Bad input to the roles stops the play in preflight, names the variable, and changes nothing.

All cases run in one ansible-playbook (preflight_helpers.py: each case is a host of its own)."""

from __future__ import annotations

import pytest
from preflight_helpers import roles_playbook, run_batch

pytestmark = pytest.mark.integration

# a complete OIDC setup, so only the URL a case breaks is wrong
OIDC = {
    "tljh_authenticator": "oidc",
    "tljh_oidc_client_id": "hub",
    "tljh_oidc_client_secret": "s3cret-for-tests",
    "tljh_oidc_authorize_url": "https://idp.example.org/authorize",
    "tljh_oidc_token_url": "https://idp.example.org/token",
    "tljh_oidc_userdata_url": "https://idp.example.org/userinfo",
    "tljh_oidc_allowed_users": ["ann"],
    "tljh_oauth_callback_url": "https://hub.example.org/hub/oauth_callback",
}

CASES = [
    # role, variables, what the failure message must say (at least the variable's name)
    ("docker", {"docker_log_max_size": "lots"}, "docker_log_max_size"),
    ("docker", {"docker_log_max_file": 0}, "docker_log_max_file"),
    ("docker", {"docker_metadata_ipv4_addresses": ["169.254.169.999"]}, "docker_metadata_ipv4_addresses"),
    ("docker", {"docker_daemon_options": {"iptables": False}}, "docker_daemon_options"),
    ("docker", {"docker_package_source": "snap"}, "docker_package_source"),
    ("base", {"base_home_root": "/"}, "base_home_root"),
    ("base", {"base_extra_ca_certificates": ["/nonexistent/ca.pem"]}, "base_extra_ca_certificates"),
    ("tljh", {"tljh_authenticator": "github", "tljh_github_client_id": "abc"}, "tljh_github_client_secret"),
    ("tljh", {"tljh_authenticator": "ldap"}, "tljh_authenticator"),
    ("tljh", {"tljh_spawner_mem_limit": "lots"}, "tljh_spawner_mem_limit"),
    ("tljh", {"tljh_spawner_cpu_limit": 0.5}, "tljh_spawner_cpu_limit"),  # TLJH's limits.cpu: whole cores
    ("tljh", {"tljh_admin_users": "alice"}, "tljh_admin_users"),
    ("tljh", {"tljh_spawner_default_image": "gpu"}, "tljh_spawner_default_image"),
    ("tljh", {"tljh_spawner_group_limits": {"big": {"cpu_limit": -1}}}, "tljh_spawner_group_limits"),
    ("tljh", {"tljh_https_domains": ["hub.example.org"]}, "tljh_letsencrypt_email"),
    ("tljh", {"tljh_authenticator": "oidc", "tljh_oidc_client_id": "x"}, "tljh_oidc_client_secret"),
    # issue 15 item 7: the message names the variable (and the entry) that is wrong
    ("tljh", {"tljh_spawner_mem_limit": "0G"}, 'tljh_spawner_mem_limit is "0G"'),
    ("tljh", {"tljh_spawner_group_limits": {"big": {"mem_limit": "0G"}}}, 'tljh_spawner_group_limits["big"]'),
    ("tljh", {"tljh_spawner_user_limits": {"ann": {"mem_limit": "0M"}}}, 'tljh_spawner_user_limits["ann"]'),
    ("tljh", {"tljh_firstuse_min_password_length": 0}, "tljh_firstuse_min_password_length is 0"),
    (
        "tljh",
        {"tljh_admin_users": ["admin"], "tljh_admin_password_hashes": {"admin": "hunter2"}},
        "tljh_admin_password_hashes.admin must be a bcrypt hash",
    ),
    (
        "tljh",
        {"tljh_admin_password_hashes": {"eve": "$2b$12$" + "a" * 53}},
        "not in tljh_admin_users",
    ),
    ("tljh", {"tljh_spawner_network_subnet": "8.8.8.0/24"}, "not inside the private"),
    ("tljh", {"tljh_spawner_network_subnet": "172.31.16.0/20"}, "overlaps 172.31.0.0/16"),
    ("tljh", {"tljh_spawner_network_subnet": "172.29.0.1/24"}, "host bits zero"),
    ("tljh", {"tljh_skel_dir": "/srv/skyhub/home/skel"}, "tljh_skel_dir"),
    (
        "tljh",
        {"tljh_pip_archive": "/nonexistent/the_littlest_jupyterhub-2.0.0.tar.gz"},
        "tljh_pip_archive is",
    ),
    ("tljh", {"tljh_pip_archive": "vendor/tljh.tar.gz"}, "not an absolute path"),
    (
        "tljh",
        {**OIDC, "tljh_oidc_token_url": "http://idp.example.org/token"},
        'tljh_oidc_token_url is "http://',
    ),
    ("quotas", {"quotas_default_size": "0"}, 'quotas_default_size is "0"'),
    ("quotas", {"quotas_default_size": "10"}, 'quotas_default_size is "10"'),
    ("quotas", {"quotas_user_sizes": {"ann": "0G"}}, 'quotas_user_sizes["ann"]'),
    ("quotas", {"quotas_group_sizes": {"class": 5}}, 'quotas_group_sizes["class"]'),
    ("dataset_mount", {"dataset_mount_root": "/srv/skyhub/home/data"}, "and the home root base_home_root"),
    ("dataset_mount", {"base_home_root": "/srv/d/home", "dataset_mount_root": "/srv/d"}, "must not contain"),
]
IDS = [f"{c[0]}-{c[2]}" for c in CASES]


@pytest.fixture(scope="module")
def batch(target_container, tmp_path_factory):
    work = tmp_path_factory.mktemp("roles")
    roles = sorted({c[0] for c in CASES})
    cases = {f"case-{i}": (f"role_{role}", variables) for i, (role, variables, _) in enumerate(CASES)}
    # only the preflight tasks (and Ansible's argument spec checks, which always run): a case that wrongly
    # passed stops there instead of converging the shared container; test_site.py proves on site.yml that a
    # failing preflight comes before any change
    tags = ",".join(f"{r}_preflight" for r in roles)
    playbook = roles_playbook(roles, work / "play.yml")
    return run_batch(target_container, playbook, cases, work, ("--tags", tags))


@pytest.mark.parametrize(("index", "says"), [(i, c[2]) for i, c in enumerate(CASES)], ids=IDS)
def test_bad_input_stops_in_preflight_naming_the_variable(batch, index, says):
    result = batch.hosts[f"case-{index}"]
    assert result.failed, f"case {CASES[index]} passed; stderr: {batch.stderr[-2000:]}"
    assert says in result.message, result.message
    assert result.changed == 0, result


def test_no_case_changed_the_host(batch):
    assert batch.rc != 0
    assert batch.changed == [], f"the host changed: {batch.changed}"
