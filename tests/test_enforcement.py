"""An endpoint that ignores IAM (LocalStack Community, plain moto) is named as such, never the
learner: lab 2's live checks say they cannot judge isolation there."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from checks import run
from checks.enforcement import enforces_iam, require_enforcement
from checks.framework import REGISTRY, CannotCheck, Trial, exercise
from environment.emulator import free_port
from environment.lab import Lab, connect
from environment.settings import load_settings


@pytest.fixture(scope="module")
def plain_moto(tmp_path_factory):
    """moto's own server in a process of its own: in this process moto's dispatch may already
    carry the kit's gate (the in-process gate tests install it), and then it would enforce."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                               "-p", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):  # a bounded wait for the port, a few seconds at most
            try:
                requests.get(f"http://127.0.0.1:{port}/moto-api/", timeout=1)
                break
            except requests.ConnectionError:
                if server.poll() is not None:
                    pytest.fail("moto's server did not start")
                server_wait(server)
        settings = load_settings({"LAB_ENDPOINT": f"http://127.0.0.1:{port}",
                                  "LAB_EMBEDDED": "0",
                                  "LAB_STATE_DIR": str(tmp_path_factory.mktemp("plain"))})
        yield connect(quiet=True, settings=settings)
    finally:
        server.terminate()
        server.wait(timeout=10)


def server_wait(server: subprocess.Popen) -> None:
    try:
        server.wait(timeout=0.02)
    except subprocess.TimeoutExpired:
        pass


def test_plain_moto_is_found_not_to_enforce_iam_and_the_report_says_what_to_use(plain_moto):
    assert not enforces_iam(plain_moto)
    with pytest.raises(CannotCheck, match="does not enforce IAM.*embedded emulator"):
        require_enforcement(plain_moto)


def test_the_kits_gate_enforces_even_when_reached_as_a_foreign_endpoint(lab: Lab):
    foreign = load_settings({"LAB_ENDPOINT": lab.settings.endpoint, "LAB_EMBEDDED": "0",
                             "LAB_STATE_DIR": str(lab.settings.state_dir)})
    assert enforces_iam(Lab(foreign, lab.identity))


def test_a_check_that_cannot_judge_reports_not_checked():
    @exercise("0.4", "needs an enforcing account", ("fn",), hint="-")
    def check_needs(fn, t: Trial):
        with t.case("first"):
            raise CannotCheck("this endpoint does not enforce IAM policies")

    try:
        outcome = run("0.4", abs)
        assert outcome.state == "not checked" and not outcome.passed
        assert outcome.message.startswith("Not checked: this endpoint does not enforce IAM")
        assert "bug in the kit" not in outcome.message
    finally:
        REGISTRY.pop("0.4")
