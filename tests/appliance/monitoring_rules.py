"""promtool rule unit tests for skyhub's alert rules, built from the rules a host really has.

`rule_tests(settings, rules_file)` takes the monitoring settings (/etc/skyhub/monitoring.json) and the path
of a copy of the deployed rules with their annotations stripped (`strip_annotations`: promtool compares
annotations verbatim and they are prose) and returns promtool test files: the expressions, `for` durations and
thresholds tested are exactly the deployed ones. Every alert gets a case where it fires and a control where
it must not.
"""

from __future__ import annotations

import copy
import re
from typing import Any

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def seconds(duration: str) -> float:
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d|w|y)", duration.strip())
    if not m:
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    return int(m.group(1)) * _UNITS[m.group(2)]


def _step(duration: float, parts: int) -> int:
    """A whole-second series step: about a `parts`-th of `duration`."""
    return max(int(duration // parts), 1)


def dur(secs: float) -> str:
    return f"{int(secs)}s"


def strip_annotations(rules: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(rules)
    for group in out["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    return out


def _case(
    step: float,
    series: list[tuple[str, str]],
    checks: list[tuple[float, str, list[dict[str, str]]]],
) -> dict[str, Any]:
    return {
        "interval": dur(step),
        "input_series": [{"series": s, "values": v} for s, v in series],
        "alert_rule_test": [
            {"eval_time": dur(t), "alertname": name, "exp_alerts": [{"exp_labels": labels} for labels in exp]}
            for t, name, exp in checks
        ],
    }


def rule_tests(settings: dict[str, Any], rules_file: str) -> list[dict[str, Any]]:
    f = {k: seconds(v) for k, v in settings["for"].items()}
    th = settings["thresholds"]
    inst = 'instance="127.0.0.1:9100",job="node"'
    node = {"instance": "127.0.0.1:9100", "job": "node"}
    tests: list[dict[str, Any]] = []

    # hub down: fires once `for` has passed with the scrape failing; not before, and not while it answers
    hub_for = f["hub_down"]
    step = _step(hub_for, 4)
    n = int(hub_for / step) + 8
    hub = {"instance": "172.29.0.1:15001", "job": "jupyterhub"}
    tests.append(
        _case(
            step,
            [
                ('up{instance="172.29.0.1:15001",job="jupyterhub"}', f"1 0x{n}"),
                ("skyhub_proxy_up{" + inst + "}", f"1 0x{n}"),
            ],
            [
                (step * 0, "SkyhubHubDown", []),
                (step + hub_for - step, "SkyhubHubDown", []),
                (step + hub_for + 2 * step, "SkyhubHubDown", [{**hub, "severity": "critical"}]),
                (step + hub_for + 2 * step, "SkyhubProxyDown", [{**node, "severity": "critical"}]),
            ],
        )
    )

    # dataset down for longer than `for` fires; a shorter outage does not
    ds_for = f["dataset_down"]
    step = _step(ds_for, 4)
    short = max(int(ds_for / step) - 2, 1)
    long_ = int(ds_for / step) + 6
    ds = {"dataset": "hst", "mountpoint": "/srv/skyhub/data/hst"}
    tests.append(
        _case(
            step,
            [
                (
                    'skyhub_dataset_up{dataset="hst",mountpoint="/srv/skyhub/data/hst",' + inst + "}",
                    f"1 0x{short} 1x{short + 2} 0x{long_}",
                ),
            ],
            [
                (step * (short + 1), "SkyhubDatasetDown", []),
                (step * (2 * short + 5) + ds_for - step, "SkyhubDatasetDown", []),
                (
                    step * (2 * short + 5) + ds_for + step,
                    "SkyhubDatasetDown",
                    [{**ds, **node, "severity": "critical"}],
                ),
            ],
        )
    )

    # backups: a failed last run fires; a good one does not. Stale: no success for 2x the interval fires (also
    # when none ever succeeded, counted from when backups were set up); 1.5x does not
    interval = float(th["backup_interval_seconds"])
    step = _step(interval, 4)
    bf = f["backup_failed"]
    tests.append(
        _case(
            _step(bf, 2),
            [
                ("skyhub_backup_last_run_ok{" + inst + "}", "1 1 0x20"),
            ],
            [
                (0, "SkyhubBackupFailed", []),
                (
                    _step(bf, 2) * 2 + bf + _step(bf, 2),
                    "SkyhubBackupFailed",
                    [{**node, "severity": "critical"}],
                ),
            ],
        )
    )
    tests.append(
        _case(
            step,
            [
                ("skyhub_backup_last_success_timestamp_seconds{" + inst + "}", "0x20"),
                ('skyhub_backup_configured_timestamp_seconds{instance="other:9100",job="node"}', "0x20"),
            ],
            [
                (interval * 1.5, "SkyhubBackupStale", []),
                (
                    interval * 2 + step,
                    "SkyhubBackupStale",
                    [
                        {**node, "severity": "critical"},
                        {"instance": "other:9100", "job": "node", "severity": "critical"},
                    ],
                ),
            ],
        )
    )

    # disk: a watched mount point over the threshold fires; an unwatched one, or one under it, does not
    disk_for = f["disk"]
    step = _step(disk_for, 4)
    n = int(disk_for / step) + 8
    watched = th["disk_mountpoints"][0]
    pct = float(th["disk_percent"])
    over_avail = int(100 - pct - 5)  # of 100 bytes
    under_avail = int(100 - pct + 5)
    series = []
    for mp, avail in (
        (watched, over_avail),
        ("/not-watched", over_avail),
        (th["disk_mountpoints"][-1], under_avail),
    ):
        labels = f'device="d",fstype="ext4",mountpoint="{mp}",{inst}'
        series += [
            ("node_filesystem_avail_bytes{" + labels + "}", f"{avail}x{n}"),
            ("node_filesystem_size_bytes{" + labels + "}", f"100x{n}"),
        ]
    if th["disk_mountpoints"][-1] == watched:
        series = series[:4]
    tests.append(
        _case(
            step,
            series,
            [
                (disk_for - step, "SkyhubDiskFull", []),
                (
                    disk_for + step,
                    "SkyhubDiskFull",
                    [{"device": "d", "fstype": "ext4", "mountpoint": watched, **node, "severity": "warning"}],
                ),
            ],
        )
    )

    # quota: a user over the threshold fires, one under it does not
    q_for = f["quota"]
    step = _step(q_for, 4)
    n = int(q_for / step) + 8
    qpct = float(th["quota_percent"])
    tests.append(
        _case(
            step,
            [
                ('skyhub_quota_used_bytes{user="full",' + inst + "}", f"{int(qpct) + 5}x{n}"),
                ('skyhub_quota_limit_bytes{user="full",' + inst + "}", f"100x{n}"),
                ('skyhub_quota_used_bytes{user="fine",' + inst + "}", f"{int(qpct) - 5}x{n}"),
                ('skyhub_quota_limit_bytes{user="fine",' + inst + "}", f"100x{n}"),
            ],
            [
                (q_for - step, "SkyhubUserQuotaNearlyFull", []),
                (
                    q_for + step,
                    "SkyhubUserQuotaNearlyFull",
                    [{"user": "full", **node, "severity": "warning"}],
                ),
            ],
        )
    )

    # memory: little available for `for` fires; enough does not. An OOM kill fires at once.
    m_for = f["memory"]
    step = _step(m_for, 4)
    n = int(m_for / step) + 8
    mpct = float(th["memory_available_percent"])
    tests.append(
        _case(
            step,
            [
                (
                    "node_memory_MemAvailable_bytes{" + inst + "}",
                    f"{int(mpct) + 20}x4 {max(int(mpct) - 5, 0)}x{n}",
                ),
                ("node_memory_MemTotal_bytes{" + inst + "}", f"100x{n + 5}"),
                ("node_vmstat_oom_kill{" + inst + "}", f"0x4 1x{n}"),
            ],
            [
                (step * 3, "SkyhubMemoryPressure", []),
                (step * 3, "SkyhubOOMKill", []),
                (step * 5 + m_for - 2 * step, "SkyhubMemoryPressure", []),
                (step * 5 + m_for + step, "SkyhubMemoryPressure", [{**node, "severity": "warning"}]),
                (step * 5, "SkyhubOOMKill", [{**node, "severity": "warning"}]),
            ],
        )
    )

    # certificates: expiring within the window fires, later does not; an unreadable one fires its own alert
    c_for = f["certificate"]
    days = float(th["cert_days"])
    step = _step(c_for, 4)
    n = int(c_for / step) + 8
    soon = int((days - 2) * 86400)
    later = int((days + 10) * 86400)
    tests.append(
        _case(
            step,
            [
                (
                    'skyhub_certificate_expiry_timestamp_seconds{name="soon.example",' + inst + "}",
                    f"{soon}x{n}",
                ),
                (
                    'skyhub_certificate_expiry_timestamp_seconds{name="later.example",' + inst + "}",
                    f"{later}x{n}",
                ),
                ('skyhub_certificate_probe_ok{name="gone.example",' + inst + "}", f"0x{n}"),
            ],
            [
                (c_for - step, "SkyhubCertificateExpiring", []),
                (
                    c_for + step,
                    "SkyhubCertificateExpiring",
                    [{"name": "soon.example", **node, "severity": "warning"}],
                ),
                (c_for - step, "SkyhubCertificateUnreadable", []),
                (
                    c_for + step,
                    "SkyhubCertificateUnreadable",
                    [{"name": "gone.example", **node, "severity": "warning"}],
                ),
            ],
        )
    )

    # spawn failures: a failure counted (the series existing at 0, or appearing at 1) fires; successes do not
    window = f["spawn_failures_window"]
    s_for = f["spawn_failures"]
    step = _step(window, 8)
    hubl = 'instance="172.29.0.1:15001",job="jupyterhub"'
    tests.append(
        _case(
            step,
            [
                ('jupyterhub_server_spawn_duration_seconds_count{status="failure",' + hubl + "}", "0x4 1x20"),
                (
                    'jupyterhub_server_spawn_duration_seconds_count{status="success",' + hubl + "}",
                    "0 1 2 3 4 5 6 7 8 9",
                ),
            ],
            [
                (step * 3, "SkyhubSpawnFailures", []),
                (
                    step * 5 + s_for + step,
                    "SkyhubSpawnFailures",
                    [{"status": "failure", **hub, "severity": "warning"}],
                ),
                (step * 5 + window + s_for + 2 * step, "SkyhubSpawnFailures", []),
            ],
        )
    )
    tests.append(
        _case(
            step,
            [
                ('jupyterhub_server_spawn_duration_seconds_count{status="failure",' + hubl + "}", "_x4 1x20"),
            ],
            [
                (
                    step * 5 + s_for + step,
                    "SkyhubSpawnFailures",
                    [{"status": "failure", **hub, "severity": "warning"}],
                )
            ],
        )
    )

    # monitoring itself: a failing collector fires after `for`
    st_for = f["collector_stale"]
    step = _step(st_for, 4)
    n = int(st_for / step) + 8
    tests.append(
        _case(
            step,
            [
                ('skyhub_metrics_collector_ok{collector="quota",' + inst + "}", f"0x{n}"),
                ('skyhub_metrics_collector_ok{collector="dataset",' + inst + "}", f"1x{n}"),
            ],
            [
                (st_for - step, "SkyhubMonitoringBroken", []),
                (
                    st_for + step,
                    "SkyhubMonitoringBroken",
                    [{"collector": "quota", **node, "severity": "warning"}],
                ),
            ],
        )
    )

    # one test file per evaluation interval (each case is evaluated at its own series step: a 2-day backup
    # window evaluated every second would take promtool minutes)
    files: dict[str, dict[str, Any]] = {}
    for case in tests:
        files.setdefault(
            case["interval"],
            {"rule_files": [rules_file], "evaluation_interval": case["interval"], "tests": []},
        )
        files[case["interval"]]["tests"].append(case)
    return list(files.values())
