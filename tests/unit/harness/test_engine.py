"""Engine bootstrap: an answering engine is left alone; otherwise install/start only where it can."""

from __future__ import annotations

import pytest

from skyhub import engine
from skyhub.errors import SkyhubError

DEBIAN = {"ID": "debian", "PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)"}
FEDORA = {"ID": "fedora", "PRETTY_NAME": "Fedora Linux 41"}


class FakeHost:
    def __init__(self, *, answers_after: int | None, release=DEBIAN, root=True, dockerd=True, apt_ok=True):
        self.calls: list[list[str]] = []
        self.answers_after = answers_after  # number of `docker info` calls before it answers; None: never
        self.info_calls = 0
        self.spawned = 0
        self.release = release
        self.root = root
        self.dockerd = dockerd
        self.apt_ok = apt_ok
        self.messages: list[str] = []

    def run(self, argv):
        self.calls.append(argv)
        if argv[:2] == ["docker", "info"]:
            self.info_calls += 1
            return 0 if self.answers_after is not None and self.info_calls > self.answers_after else 1
        if "apt-get" in argv:
            if "install" in argv and self.apt_ok:
                self.dockerd = True
            return 0 if self.apt_ok else 100
        return 0

    def as_host(self) -> engine.Host:
        return engine.Host(
            run=self.run,
            os_release=lambda: self.release,
            is_root=lambda: self.root,
            which=lambda name: "/usr/sbin/dockerd" if self.dockerd else None,
            spawn_daemon=self._spawn,
            sleep=lambda s: None,
            say=self.messages.append,
        )

    def _spawn(self):
        self.spawned += 1

    def mutating_calls(self):
        return [c for c in self.calls if c[:2] != ["docker", "info"]]


def test_running_engine_is_untouched_and_quiet():
    fake = FakeHost(answers_after=0)
    assert engine.ensure_engine(fake.as_host()) == "running"
    assert fake.mutating_calls() == []
    assert fake.spawned == 0
    assert fake.messages == []


def test_installed_but_stopped_engine_is_started():
    fake = FakeHost(answers_after=2)
    assert engine.ensure_engine(fake.as_host()) == "started"
    assert fake.spawned == 1
    assert not any("apt-get" in c for c in fake.calls)


def test_missing_engine_is_installed_on_debian_as_root():
    fake = FakeHost(answers_after=1, dockerd=False)
    assert engine.ensure_engine(fake.as_host()) == "installed"
    installs = [c for c in fake.calls if "install" in c]
    assert installs and "docker.io" in installs[0]
    assert fake.spawned == 1


def test_other_os_gets_a_clear_message_and_no_changes():
    fake = FakeHost(answers_after=None, release=FEDORA, dockerd=False)
    with pytest.raises(SkyhubError, match="Install Docker Engine"):
        engine.ensure_engine(fake.as_host())
    assert fake.mutating_calls() == []


def test_non_root_is_told_what_to_run():
    fake = FakeHost(answers_after=None, root=False, dockerd=False)
    with pytest.raises(SkyhubError, match=r"sudo apt-get install -y docker\.io"):
        engine.ensure_engine(fake.as_host())
    assert fake.spawned == 0


def test_daemon_that_never_answers_times_out_with_log_hint():
    fake = FakeHost(answers_after=None)
    with pytest.raises(SkyhubError, match=r"skyhub-dockerd\.log"):
        engine.ensure_engine(fake.as_host(), timeout=3)


def test_failed_apt_is_reported():
    fake = FakeHost(answers_after=None, dockerd=False, apt_ok=False)
    with pytest.raises(SkyhubError, match="apt-get"):
        engine.ensure_engine(fake.as_host())


@pytest.mark.parametrize(
    ("release", "expected"),
    [
        ({"ID": "ubuntu", "ID_LIKE": "debian"}, True),
        ({"ID": "linuxmint", "ID_LIKE": "ubuntu debian"}, True),
        ({"ID": "fedora"}, False),
        ({}, False),
    ],
)
def test_debian_like(release, expected):
    assert engine.is_debian_like(release) is expected
