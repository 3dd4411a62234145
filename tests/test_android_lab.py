"""The lab's scenarios under Android's app-sandbox rules (SPEC §8): the real CLI in the
phone namespace with netlink, getifaddrs, if_nameindex, /proc/net and /sys/class/net
refused (tests/lab/android_shim.c), no psutil and Termux's environment. What a phone
still has — the kernel's choice of route for each address — must be enough for:
healthy → all clear, link down → ``offline``, BPJS routed into a VPN → ``vpn_or_proxy``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.lab import Lab
from tests.lab.android import AndroidSandbox, phone_link_down, unavailable_reason

pytestmark = pytest.mark.lab

CLI = Path(sys.executable).parent / "jmo-doctor"
OK, CRITICAL = 0, 2


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AndroidSandbox]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    yield AndroidSandbox.build(tmp_path_factory.mktemp("android"))


# --- the sandbox itself (no lab needed) -------------------------------------------------

_REFUSALS = r"""
import json, os, socket
out = {}
def attempt(name, call):
    try:
        call()
        out[name] = "allowed"
    except Exception as error:
        out[name] = type(error).__name__ + ":" + str(getattr(error, "errno", ""))
attempt("if_nameindex", socket.if_nameindex)
attempt("proc_net", lambda: open("/proc/net/route").read())
attempt("proc_self_net", lambda: open("/proc/self/net/ipv6_route").read())
attempt("sys_class_net", lambda: os.listdir("/sys/class/net"))
attempt("netlink_bind", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW).bind((0, 0)))
attempt("psutil", lambda: __import__("psutil"))
attempt("proc_self_status", lambda: open("/proc/self/status").read())
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
attempt("udp_connect", lambda: udp.connect(("127.0.0.1", 9)))
print(json.dumps(out))
"""


def test_the_sandbox_refuses_what_android_refuses(sandbox: AndroidSandbox) -> None:
    done = subprocess.run(
        sandbox.argv([sys.executable, "-c", _REFUSALS]),
        env={**sandbox.env(), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert json.loads(done.stdout) == {
        "if_nameindex": "PermissionError:13",
        "proc_net": "PermissionError:13",
        "proc_self_net": "PermissionError:13",
        "sys_class_net": "PermissionError:13",
        "netlink_bind": "PermissionError:13",
        "psutil": "ModuleNotFoundError:",
        # the rest of the system still works
        "proc_self_status": "allowed",
        "udp_connect": "allowed",
    }


def test_ip_route_fails_as_on_a_phone(sandbox: AndroidSandbox) -> None:
    done = subprocess.run(sandbox.argv(["ip", "route"]), capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert "Cannot bind netlink socket: Permission denied" in done.stderr


# --- the lab's scenarios under it -------------------------------------------------------


@dataclass
class Run:
    code: int
    report: dict[str, Any]
    stderr: str

    def probe(self, probe_id: str) -> dict[str, Any]:
        return next(p for p in self.report["probes"] if p["id"] == probe_id)

    @property
    def causes(self) -> list[str]:
        return [c["id"] for c in self.report["causes"]]

    def explain(self) -> str:
        lines = [f"exit {self.code}", *(f"  cause {c}" for c in self.causes)]
        lines += [f"  {p['id']}: {p['status']} — {p['summary']}" for p in self.report["probes"]]
        return "\n".join([*lines, self.stderr[-1500:]])


def android_run(lab: Lab, sandbox: AndroidSandbox, timeout: float = 10.0) -> Run:
    """``jmo-doctor run --quick`` in the phone, as Termux on Android runs it."""
    config = lab.write_config()
    argv = [str(CLI), "run", "--quick", "--config", str(config), "--format", "json"]
    argv += ["--timeout", str(timeout)]
    began = time.perf_counter()
    proc = lab.run_in_phone(sandbox.argv(argv), env=sandbox.env(), timeout=timeout + 30)
    assert "Traceback" not in proc.stderr, proc.stderr
    report = json.loads(proc.stdout)
    run = Run(proc.returncode, report, proc.stderr)
    assert report["exit_code"] == proc.returncode, run.explain()
    assert time.perf_counter() - began < timeout + 5, run.explain()
    system = run.probe("system")
    # the run really was sandboxed: nothing of the interface list could be read
    assert report["environment"]["platform"] == "android-termux", run.explain()
    assert system["details"]["interfaces"] == [], run.explain()
    unavailable = " | ".join(system["details"]["unavailable"])
    assert "psutil (not installed)" in unavailable, unavailable
    assert "Permission denied" in unavailable, unavailable
    return run


def test_healthy_phone_is_all_clear(lab: Lab, sandbox: AndroidSandbox) -> None:
    run = android_run(lab, sandbox)
    assert run.code == OK, run.explain()
    assert run.causes == ["kpj_not_linked", "membership_data"], run.explain()
    system = run.probe("system")
    assert system["status"] == "pass", run.explain()
    assert not system["findings"], run.explain()
    assert system["metrics"]["paths_routed"] == system["metrics"]["paths_tried"] > 0


def test_link_down_is_offline(lab: Lab, sandbox: AndroidSandbox) -> None:
    with phone_link_down(lab):
        run = android_run(lab, sandbox)
    assert run.code == CRITICAL, run.explain()
    assert run.causes[0] == "offline", run.explain()
    [offline] = [f for f in run.probe("system")["findings"] if f["code"] == "system.offline"]
    assert offline["data"]["reason"] == "no_path", run.explain()
    # the trusted resolver out of reach is no answer that vouches for the link
    dns = run.probe("dns")
    assert any(f["data"].get("unreachable") for f in dns["findings"]), run.explain()
    assert "dns_failure" not in run.causes, run.explain()


def test_bpjs_routed_into_a_vpn_is_vpn_or_proxy(lab: Lab, sandbox: AndroidSandbox) -> None:
    lab.add_vpn("tun0", route_bpjs=True)
    run = android_run(lab, sandbox)
    assert run.causes[0] == "vpn_or_proxy", run.explain()
    assert run.code != OK, run.explain()
    [vpn] = [f for f in run.probe("system")["findings"] if f["code"] == "system.vpn"]
    # the interface list is hidden: the kernel's source address told
    assert vpn["data"]["reason"] == "split_tunnel", run.explain()
    assert "bpjs" in " ".join(vpn["data"]["bpjs_targets"]), run.explain()
