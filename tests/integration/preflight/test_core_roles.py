"""Bad input to the core roles stops the play in preflight, names the variable, and changes nothing."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

CASES = [
    # role, variables, the variable the message must name
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
]


@pytest.mark.parametrize(("role", "variables", "names"), CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_bad_input_stops_before_any_change(run_role, role, variables, names):
    result = run_role(role, variables)
    assert result.rc != 0, result.output[-2000:]
    assert names in result.output, result.output[-2000:]
    assert result.recap_changed == 0, result.output[-2000:]
    assert result.changed == [], f"the host changed: {result.changed}"
