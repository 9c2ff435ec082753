"""The load harness's own logic (tests/appliance/loadlib.py, scripts/load.py): what it reads from the hub
host, how it puts a spawn's phases together, the capacity rule, the report check and the plot. The harness
against a real hub is tested in the image tier (tests/integration/image/test_load.py)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests" / "appliance"))
import loadlib  # noqa: E402


def load_script():
    spec = importlib.util.spec_from_file_location("skyhub_load_script", REPO / "scripts" / "load.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docker_times_keep_microseconds_and_the_zone():
    want = datetime(2026, 12, 2, 2, 50, 1, 123456, tzinfo=UTC).timestamp()
    assert loadlib.parse_docker_time("2026-12-02T02:50:01.123456789Z") == want
    assert loadlib.parse_docker_time("2026-12-02T03:50:01.123456789+01:00") == want
    assert loadlib.parse_docker_time("2026-12-02T02:50:01Z") == want - 0.123456
    with pytest.raises(ValueError, match="not a Docker timestamp"):
        loadlib.parse_docker_time("0001-01-01 00:00:00")


def test_container_times_by_name():
    out = (
        "/jupyter-ldab12s0u00 2026-12-02T02:50:01.000000000Z 2026-12-02T02:50:01.500000000Z\n"
        "/jupyter-ldab12s0u01 2026-12-02T02:50:03.250000000Z 2026-12-02T02:50:04.000000000Z\n"
        "\n"
    )
    times = loadlib.parse_container_times(out)
    assert set(times) == {"jupyter-ldab12s0u00", "jupyter-ldab12s0u01"}
    created, started = times["jupyter-ldab12s0u01"]
    assert started - created == pytest.approx(0.75)


def journal_line(when: float, message) -> str:
    return json.dumps({"__REALTIME_TIMESTAMP": str(int(when * 1e6)), "MESSAGE": message, "_PID": "1"})


def test_journal_gives_took_times_and_the_hubs_errors():
    took = "[I 2026-12-02 02:50:06.100 JupyterHub base:1144] User ldab12s0u00 took 5.100 seconds to start"
    err = (
        "[E 2026-12-02 02:50:07.000 JupyterHub user:1013] Unhandled error starting ldab12s0u01's server: boom"
    )
    out = "\n".join(
        [
            journal_line(
                1000.5, "[I 2026-12-02 02:50:01 JupyterHub log:192] 202 POST /hub/api/users/x/server"
            ),
            journal_line(1005.1, took),
            journal_line(1006.0, err),
            journal_line(1006.5, list(b"Traceback (most recent call last):")),  # journald's byte-array form
            "not json",
        ]
    )
    records = loadlib.parse_journal(out)
    assert len(records) == 4
    assert loadlib.took_times(records) == {"ldab12s0u00": pytest.approx(1005.1)}
    errors = loadlib.hub_errors(records)
    assert errors[0].startswith("[E ") and "boom" in errors[0]
    assert errors[1].startswith("Traceback")
    assert len(errors) == 2


def a_run(**times) -> loadlib.UserRun:
    run = loadlib.UserRun("ldab12s0u00", "astro", 0.0)
    for key, value in times.items():
        setattr(run, f"t_{key}", value)
    return run


def test_phases_cover_the_spawn_end_to_end():
    run = a_run(post=100.0, created=100.4, started=100.9, took=106.2, ready_event=106.5, first_200=106.6)
    phases = loadlib.phases_of(run)
    assert list(phases) == list(loadlib.PHASES)
    assert phases == pytest.approx(
        {
            "hub_and_hook_s": 0.4,
            "container_start_s": 0.5,
            "server_up_s": 5.3,
            "proxy_route_s": 0.3,
            "first_response_s": 0.1,
        }
    )
    assert sum(phases.values()) == pytest.approx(6.6)


def test_a_missing_event_leaves_its_phases_empty_not_wrong():
    run = a_run(post=100.0, started=100.9, took=106.2, ready_event=106.5, first_200=106.6)  # no Created
    phases = loadlib.phases_of(run)
    assert phases["hub_and_hook_s"] is None and phases["container_start_s"] is None
    assert phases["server_up_s"] == pytest.approx(5.3)


def test_percentiles_by_nearest_rank():
    assert loadlib.pct([], 0.95) is None
    assert loadlib.pct([3.0], 0.95) == 3.0
    assert loadlib.pct([float(v) for v in range(1, 9)], 0.95) == 8.0  # 8 users: p95 is the slowest
    assert loadlib.pct([float(v) for v in range(1, 21)], 0.95) == 19.0
    assert loadlib.stats([1.0, 2.0, 10.0]) == {"p50": 2.0, "p95": 10.0, "max": 10.0}


SAMPLE = """1764643800.000000000
0.52 0.40 0.30 1/300 1234
jupyterhub 100 50 204800
traefik 20 10 51200
100
"""


def sample(t: float, hub_ticks: int, rss_kib: int) -> dict:
    out = SAMPLE.replace("1764643800.000000000", f"{t:.9f}").replace(
        "100 50 204800", f"{hub_ticks} 0 {rss_kib}"
    )
    return loadlib.HubSampler.parse(out)


def test_hub_sample_is_read_from_proc():
    s = loadlib.HubSampler.parse(SAMPLE)
    assert s["t"] == 1764643800.0 and s["load1"] == 0.52
    assert s["jupyterhub"] == {"cpu_s": 1.5, "rss_mib": 200.0}
    assert s["traefik"] == {"cpu_s": 0.3, "rss_mib": 50.0}


def test_hub_cpu_and_rss_over_a_step():
    samples = [sample(0.0, 0, 200 * 1024), sample(2.0, 100, 260 * 1024), sample(4.0, 120, 240 * 1024)]
    out = loadlib.summarize_samples(samples)
    assert out["hub_cpu_pct_mean"] == 30.0  # 1.2 CPU-seconds in 4 s
    assert out["hub_cpu_pct_peak"] == 50.0  # 1.0 CPU-second in the first 2 s
    assert out["hub_rss_mib_peak"] == 260.0 and out["hub_rss_mib_end"] == 240.0
    assert out["traefik_rss_mib_peak"] == 50.0 and out["load1_peak"] == 0.52
    assert loadlib.summarize_samples([])["hub_cpu_pct_mean"] is None


def step(users: int, p95: float | None, errors: int = 0) -> dict:
    runs = []
    for i in range(users):
        phases = dict.fromkeys(loadlib.PHASES, 1.0)
        run = {"name": f"u{i}", "phases": phases, "error": None}
        run |= dict.fromkeys(("login_s", "spawn_s", "cell_s", "save_s", "stop_s"), 1.0)
        if i < errors:
            run |= {
                "error": "HubError: start: HTTP 429",
                "phases": dict.fromkeys(loadlib.PHASES),
                "spawn_s": None,
            }
        runs.append(run)
    return {
        "users": users,
        "ok": users - errors,
        "errors": [f"u{i}: HTTP 429" for i in range(errors)],
        "spawn_s": {"p50": p95, "p95": p95, "max": p95},
        "phases": {name: {"p50": 1.0, "p95": 1.0, "max": 1.0} for name in loadlib.PHASES},
        "hub": {"hub_cpu_pct_mean": 20.0, "hub_rss_mib_peak": 250.0},
        "user_runs": runs,
    }


def test_capacity_is_the_largest_clean_step_under_the_limit():
    assert loadlib.capacity([step(2, 5.0), step(4, 9.0), step(8, 16.0)], 15.0) == 4
    assert loadlib.capacity([step(2, 5.0), step(4, 9.0), step(8, 12.0, errors=1)], 15.0) == 4
    assert loadlib.capacity([step(2, 15.0)], 15.0) == 2
    assert loadlib.capacity([step(2, 16.0)], 15.0) == 0
    assert loadlib.capacity([], 15.0) == 0


def report(*steps: dict) -> dict:
    return {
        "capacity_users": loadlib.capacity(list(steps), 15.0),
        "stop_reason": "all steps ran",
        "steps": list(steps),
        "when": "2026-12-02T03:00:00Z",
        "settings": {
            "p95_limit_s": 15.0,
            "signup": "the admin adds users (REST API), their first login sets the password",
        },
        "phase_definitions": loadlib.PHASES,
    }


def test_a_complete_report_passes_the_check_errors_and_all():
    assert loadlib.check_report(report(step(2, 5.0), step(4, 9.0, errors=1))) == []


def test_the_check_names_what_a_report_lacks():
    broken = report(step(2, 5.0), step(4, 9.0))
    broken["steps"][1]["user_runs"][2]["phases"]["container_start_s"] = None
    broken["steps"][1]["user_runs"][3]["cell_s"] = None
    broken["steps"][0]["hub"]["hub_rss_mib_peak"] = None
    broken["steps"][0]["user_runs"].pop()
    problems = loadlib.check_report(broken)
    assert "step 4: u2 has no container_start_s" in problems
    assert "step 4: u3 has no cell_s" in problems
    assert "step 2: no hub_rss_mib_peak" in problems
    assert "step 2: 1 user records for 2 users" in problems
    assert loadlib.check_report({"steps": []})[-1] == "no steps ran"


def test_plot_is_a_png(tmp_path):
    path = loadlib.plot(report(step(2, 5.0), step(4, 9.0), step(8, 17.0)), tmp_path / "load.png")
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000


def test_the_cell_reads_a_fits_file_and_says_so(tmp_path):
    """The cell every user runs, run here by Python on a directory standing in for /data/hst."""
    from astropy.io import fits

    (tmp_path / "j8xi01").mkdir()
    fits.PrimaryHDU().writeto(tmp_path / "j8xi01" / "j8xi01_flt.fits")
    (tmp_path / "README.txt").write_text("x")
    code = loadlib.CELL.replace("/data/hst", str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    m = loadlib.CELL_RESULT.search(out)
    assert m and m.group(1, 2, 3) == ("2", "1", "SIMPLE")
    assert loadlib.cell_problem(out) is None


def test_the_cell_on_a_dataset_without_fits_files_is_told_apart(tmp_path):
    (tmp_path / "UNAVAILABLE.txt").write_text("the dataset is not mounted")
    code = loadlib.CELL.replace("/data/hst", str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "the cell did not read a FITS file from /data/hst" in loadlib.cell_problem(out)
    assert "the cell did not read" in loadlib.cell_problem("Traceback ... PermissionError")


def test_gate_opens_when_everyone_arrived():
    gate = loadlib.Gate(2)
    gate.arrive()
    assert gate.wait(0.01) is False
    gate.arrive()
    assert gate.wait(0.01) is True


@pytest.mark.parametrize("bad", ["", "4,2", "0,2", "two", "2,-4"])
def test_bad_steps_are_a_clear_error(bad, capsys):
    script = load_script()
    with pytest.raises(SystemExit):
        script.main(["--steps", bad])
    assert "--steps needs increasing whole numbers like 2,4,8" in capsys.readouterr().err


def test_bad_idle_is_a_clear_error(capsys):
    with pytest.raises(SystemExit):
        load_script().main(["--idle", "-1"])
    assert "--idle must be between 0 and 600 seconds" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["limits.memory", "=1G", "limits.memory=1G; rm -rf /", "a b=1"])
def test_bad_config_override_is_a_clear_error(bad, capsys):
    with pytest.raises(SystemExit):
        load_script().main(["--set", bad])
    assert "--set needs KEY=VALUE with a tljh-config key" in capsys.readouterr().err
