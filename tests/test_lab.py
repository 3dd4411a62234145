"""Self-tests of the network lab (tests/lab): every fault does what the suite relies on.

All traffic stays inside the lab's namespaces; the checks run as commands in the phone
(dig, ping, curl, iperf3, a small Python client) exactly as the CLI will.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import time
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from tests.lab import Lab, cleanup_stale
from tests.lab.fixtures import lab, lab_session
from tests.lab.netns import NETNS_ETC, list_names

pytestmark = pytest.mark.lab
# The lab's fixtures, for when no conftest registers them (harmless when one does).
FIXTURES = (lab, lab_session)

BPJS = "www.bpjsketenagakerjaan.go.id"
SSO = "sso.bpjsketenagakerjaan.go.id"
GOOGLE = "www.google.com"
GSTATIC = "connectivitycheck.gstatic.com"

# A tiny HTTPS client run in the phone: takes a JSON list of requests, prints a JSON list
# of outcomes (status/headers, or the exception's class and message).
FETCH = r"""
import json, socket, ssl, sys, time
out = []
for r in json.loads(sys.argv[1]):
    began = time.monotonic()
    got = b""
    try:
        raw = socket.create_connection((r["host"], r.get("port", 443)), timeout=r.get("timeout", 3))
        sock = raw
        if r.get("port", 443) == 443:
            ctx = ssl.create_default_context(cafile=r.get("ca") or None)
            sock = ctx.wrap_socket(raw, server_hostname=r.get("sni", r["host"]))
        sock.sendall(f"GET {r.get('path', '/')} HTTP/1.1\r\nHost: {r['host']}\r\n"
                     "Connection: close\r\n\r\n".encode())
        deadline = began + r.get("deadline", 10)
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, min(r.get("timeout", 3), deadline - time.monotonic())))
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                if "deadline" in r:
                    break
                raise
            if not chunk or (r.get("headers_only") and b"\r\n\r\n" in got + chunk):
                got += chunk
                break
            got += chunk
        sock.close()
        head, _, body = got.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        first = lines[0].split()
        status = int(first[1]) if len(first) > 1 and first[1].isdigit() else None
        headers = dict(l.split(": ", 1) for l in lines[1:] if ": " in l)
        out.append({"status": status, "headers": headers, "body": body[:2000].decode("latin-1"),
                    "received": len(got)})
    except Exception as e:
        out.append({"error": type(e).__name__, "message": str(e)})
    out[-1]["seconds"] = time.monotonic() - began
print(json.dumps(out))
"""


def fetch(lab: Lab, *requests: dict[str, Any]) -> list[dict[str, Any]]:
    """Run FETCH in the phone; each request defaults to the lab CA."""
    reqs = [{"ca": str(lab.ca_bundle), **r} for r in requests]
    proc = lab.run_in_phone([sys.executable, "-c", FETCH, json.dumps(reqs)], timeout=60)
    assert proc.returncode == 0, proc.stderr
    result: list[dict[str, Any]] = json.loads(proc.stdout)
    return result


def dig(lab: Lab, name: str, qtype: str = "A", *args: str) -> subprocess.CompletedProcess[str]:
    return lab.run_in_phone(["dig", "+time=1", "+tries=1", *args, name, qtype], timeout=10)


def status(proc: subprocess.CompletedProcess[str]) -> str:
    m = re.search(r"status: (\w+)", proc.stdout)
    return m.group(1) if m else "TIMEOUT"


def answers(proc: subprocess.CompletedProcess[str]) -> list[str]:
    section = proc.stdout.partition(";; ANSWER SECTION:\n")[2].partition("\n\n")[0]
    return [" ".join(line.split()[3:]) for line in section.splitlines() if line]


def ping_rtts(lab: Lab, host: str, count: int, interval: float) -> list[float]:
    out = lab.run_in_phone(
        ["ping", "-n", "-c", str(count), "-i", str(interval), "-W", "1", host], timeout=60
    ).stdout
    return [float(x) for x in re.findall(r"time=([\d.]+)", out)]


TCP_RTT = r"""
import socket, statistics, sys, time
address = socket.gethostbyname(sys.argv[1])  # once: a lookup would cost a round trip too
samples = []
for _ in range(int(sys.argv[2])):
    s = socket.socket()
    began = time.perf_counter()
    s.connect((address, 443))
    samples.append((time.perf_counter() - began) * 1000)
    s.close()
    time.sleep(0.02)
print(statistics.median(samples))
"""


# --- the healthy lab -------------------------------------------------------------------


def test_phone_resolves_lab_hosts_through_its_system_resolver(lab: Lab) -> None:
    resolv = lab.run_in_phone(["cat", "/etc/resolv.conf"]).stdout
    assert f"nameserver {lab.system_resolver}" in resolv
    assert answers(dig(lab, BPJS)) == ["A 10.201.0.10"]
    assert answers(dig(lab, BPJS, "AAAA")) == ["AAAA fd00:201::10"]
    assert answers(dig(lab, BPJS, "A", f"@{lab.trusted_resolver}")) == ["A 10.201.0.10"]
    assert answers(dig(lab, BPJS, "A", "+tcp")) == ["A 10.201.0.10"]
    getent = lab.run_in_phone(["getent", "ahostsv4", BPJS]).stdout
    assert getent.split()[0] == "10.201.0.10"
    assert status(dig(lab, "unknown.example")) == "NXDOMAIN"


def test_https_verifies_with_the_lab_ca_only(lab: Lab) -> None:
    ok, gstatic, untrusted = fetch(
        lab, {"host": BPJS}, {"host": GSTATIC, "path": "/generate_204"}, {"host": BPJS, "ca": ""}
    )
    assert ok["status"] == 200 and BPJS in ok["body"]
    assert gstatic["status"] == 204
    assert untrusted["error"] == "SSLCertVerificationError"


def test_store_bandwidth_and_doh_endpoints(lab: Lab) -> None:
    lab.store_versions(play="3.11.0", appstore="3.11.1")
    play, apple, down = fetch(
        lab,
        {"host": "play.google.com", "path": "/store/apps/details?id=com.bpjstku&hl=id"},
        {"host": "itunes.apple.com", "path": "/lookup?id=1444834757&country=id"},
        {"host": "speed.cloudflare.com", "path": "/__down?bytes=1000000"},
    )
    assert "3.11.0" in play["body"]
    assert json.loads(apple["body"])["results"][0]["version"] == "3.11.1"
    assert down["received"] > 1_000_000 and down["headers"]["Content-Length"] == "1000000"
    doh = (
        "import dns.message, dns.rcode, httpx, sys\n"
        "q = dns.message.make_query(sys.argv[1], 'A').to_wire()\n"
        "h = {'content-type': 'application/dns-message'}\n"
        "a = httpx.post(sys.argv[3], content=q, headers=h, verify=sys.argv[2], timeout=3)\n"
        "r = dns.message.from_wire(a.content)\n"
        "print(dns.rcode.to_text(r.rcode()), [str(x) for rr in r.answer for x in rr])\n"
    )
    argv = [sys.executable, "-c", doh, BPJS, str(lab.ca_bundle), lab.doh_url]
    assert lab.run_in_phone(argv).stdout.strip() == "NOERROR ['10.201.0.10']"
    lab.dns_fault("doh", "servfail")
    assert lab.run_in_phone(argv).stdout.split()[0] == "SERVFAIL"


def test_config_is_valid_for_jmo_doctor(lab: Lab) -> None:
    from jmo_doctor import config

    cfg = config.parse(lab.config_toml(latency={"samples": 3}, timeout=12), "lab.toml")
    assert [t.host for t in cfg.targets] == [*lab.bpjs_hosts, *lab.reference_hosts]
    assert [t.role for t in cfg.targets] == ["bpjs"] * 3 + ["reference"] * 2
    assert cfg.dns.trusted_resolvers == (lab.trusted_resolver,)
    assert cfg.ca_bundle == str(lab.ca_bundle)
    assert cfg.latency.samples == 3 and cfg.timeout == 12
    assert cfg.captive_portal.url == lab.captive_url
    path = lab.write_config()
    assert config.load(str(path)).bandwidth.download_url.startswith("https://speed.cloudflare")


def test_phone_environment_is_isolated(lab: Lab) -> None:
    shown = lab.run_in_phone(
        ["sh", "-c", 'echo "${SSL_CERT_FILE-unset} $HOME $JMO_DOCTOR_HOME"'], env={}
    ).stdout.split()
    assert shown[0] == "unset"
    assert shown[1] == str(lab.home) and shown[2].startswith(str(lab.home))
    links = {
        ns: sorted(re.findall(r"^\d+: ([^:@]+)", lab.run_in(ns, ["ip", "-o", "link"]).stdout, re.M))
        for ns in ("phone", "router", "internet")
    }
    # No interface leads out of the lab: only loopbacks, the lab's veths and relay TUNs.
    assert links == {
        "phone": ["eth0", "lo"],
        "router": ["dly0", "dly1", "lo", "r-inet", "r-phone"],
        "internet": ["lo", "uplink"],
    }


# --- DNS faults --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("servfail", "SERVFAIL"),
        ("nxdomain", "NXDOMAIN"),
        ("refused", "REFUSED"),
        ("silent", "TIMEOUT"),
        ("empty", "NOERROR"),
    ],
)
def test_system_resolver_rcode_faults(lab: Lab, mode: str, expected: str) -> None:
    lab.dns_fault("system", mode, names=[BPJS])
    assert status(dig(lab, BPJS)) == expected
    assert status(dig(lab, BPJS, "A", "+tcp")) == expected
    assert answers(dig(lab, SSO)) == ["A 10.201.0.11"]  # other names unaffected
    assert answers(dig(lab, BPJS, "A", f"@{lab.trusted_resolver}")) == ["A 10.201.0.10"]


def test_block_page_answers_and_server(lab: Lab) -> None:
    lab.dns_fault("system", "blockpage", names=lab.bpjs_hosts)
    assert answers(dig(lab, BPJS)) == ["CNAME trustpositif.kominfo.go.id.", "A 36.86.63.185"]
    lab.dns_fault("system", "blockpage_a", names=[SSO])
    assert answers(dig(lab, SSO)) == ["A 36.86.63.185"]
    lab.dns_fault("system", "address", names=[SSO], addresses=["10.201.0.20"])
    assert answers(dig(lab, SSO)) == ["A 10.201.0.20"]
    page, tls = fetch(
        lab, {"host": lab.blockpage_ip, "port": 80}, {"host": BPJS, "port": 443}
    )  # resolves to the block page now
    assert page["status"] == 200 and "Internet Positif" in page["body"]
    assert tls["error"] == "SSLCertVerificationError" and "mismatch" in tls["message"]


def test_trusted_resolver_faults_and_slow_answers(lab: Lab) -> None:
    lab.dns_fault("trusted", "servfail")
    assert status(dig(lab, BPJS, "A", f"@{lab.trusted_resolver}")) == "SERVFAIL"
    assert answers(dig(lab, BPJS)) == ["A 10.201.0.10"]
    lab.dns_fault("system", "ok", names=[BPJS], delay_ms=400)
    slow = dig(lab, BPJS)
    assert int(re.findall(r"Query time: (\d+) msec", slow.stdout)[0]) >= 390
    lab.dns_clear()
    assert status(dig(lab, BPJS, "A", f"@{lab.trusted_resolver}")) == "NOERROR"


# --- server and path faults --------------------------------------------------------------


def test_connection_faults(lab: Lab) -> None:
    lab.blackhole(BPJS)
    lab.refuse(SSO)
    lab.host_fault(GOOGLE, reset=True)
    lab.host_fault("lapakasik.bpjsketenagakerjaan.go.id", hang=True)
    hole, refused, reset, hang = fetch(
        lab,
        {"host": BPJS, "timeout": 1},
        {"host": SSO},
        {"host": GOOGLE},
        {"host": "lapakasik.bpjsketenagakerjaan.go.id", "timeout": 1},
    )
    # One 1 s connect timeout per address (IPv6, then IPv4).
    assert hole["error"] == "TimeoutError" and 1.9 < hole["seconds"] < 3
    assert refused["error"] == "ConnectionRefusedError"
    assert reset["error"] in ("ConnectionResetError", "SSLEOFError", "BrokenPipeError")
    assert hang["error"] == "TimeoutError"
    lab.unblock(BPJS)
    assert fetch(lab, {"host": BPJS})[0]["status"] == 200


@pytest.mark.parametrize(
    ("cert", "message"),
    [
        ("expired", "certificate has expired"),
        ("not_yet_valid", "certificate is not yet valid"),
        ("wrong_host", "Hostname mismatch"),
        ("self_signed", "self-signed certificate"),
        ("other_ca", "unable to get local issuer certificate"),
    ],
)
def test_certificate_faults(lab: Lab, cert: str, message: str) -> None:
    lab.host_fault(BPJS, cert=cert)
    bad, good = fetch(lab, {"host": BPJS}, {"host": SSO})
    assert bad["error"] == "SSLCertVerificationError" and message in bad["message"]
    assert good["status"] == 200


def test_http_faults(lab: Lab) -> None:
    lab.host_fault(BPJS, status=503)
    lab.host_fault(SSO, slowloris=0.2)
    lab.host_fault(GOOGLE, date_offset_s=3 * 3600, huge_body=50_000_000)
    lab.host_fault(GSTATIC, stall=True)
    error, trickle, skewed, stalled = fetch(
        lab,
        {"host": BPJS},
        {"host": SSO, "deadline": 1.0},
        {"host": GOOGLE, "headers_only": True},
        {"host": GSTATIC, "timeout": 1},
    )
    assert error["status"] == 503
    assert 0 < trickle.get("received", -1) <= 8, trickle  # ~one byte per 0.2 s
    offset = parsedate_to_datetime(skewed["headers"]["Date"]).timestamp() - time.time()
    assert abs(offset - 3 * 3600) < 30
    assert skewed["headers"]["Content-Length"] == "50000000"
    assert stalled["error"] == "TimeoutError"


@pytest.mark.parametrize(("mode", "code"), [(None, "204"), ("redirect", "302"), ("page", "200")])
def test_captive_portal(lab: Lab, mode: str | None, code: str) -> None:
    lab.captive_portal(mode)
    out = lab.run_in_phone(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", lab.captive_url]
    ).stdout.split()
    assert out[0] == code
    if mode == "redirect":
        assert out[1].startswith("http://login.wifi.id/login")


def test_vpn_interface_in_phone(lab: Lab) -> None:
    lab.add_vpn("wg0", route_bpjs=True)
    link = lab.run_in_phone(["ip", "-o", "addr", "show", "dev", "wg0"]).stdout
    assert "10.99.0.2/24" in link
    assert ",UP" in lab.run_in_phone(["ip", "-o", "link", "show", "wg0"]).stdout
    bpjs, google = fetch(lab, {"host": BPJS, "timeout": 1}, {"host": GOOGLE})
    assert bpjs["error"] == "TimeoutError" and google["status"] == 200
    lab.reset()
    assert lab.run_in_phone(["ip", "link", "show", "wg0"]).returncode != 0
    assert fetch(lab, {"host": BPJS})[0]["status"] == 200


# --- link impairments ----------------------------------------------------------------------


def test_loss_drops_about_the_set_share(lab: Lab) -> None:
    lab.set_loss(down=10, up=0)
    received = len(ping_rtts(lab, GOOGLE, 200, 0.01))
    # 200 trials at p=0.1: mean 20 lost, sd 4.2; this window is about ±3.5 sd.
    assert 5 <= 200 - received <= 35, f"lost {200 - received} of 200"
    lab.set_loss(0)
    assert len(ping_rtts(lab, GOOGLE, 20, 0.01)) == 20


def test_relay_delay_matches_ping_and_tcp(lab: Lab) -> None:
    base = statistics.median(ping_rtts(lab, BPJS, 10, 0.02))
    lab.set_delay(50)
    rtts = ping_rtts(lab, BPJS, 20, 0.05)
    assert abs(statistics.median(rtts) - 100) <= 3, rtts
    tcp = float(lab.run_in_phone([sys.executable, "-c", TCP_RTT, BPJS, "10"]).stdout)
    assert abs(tcp - statistics.median(rtts)) <= 2
    lab.set_delay(up=10, down=30, jitter_ms=5)
    rtts = ping_rtts(lab, BPJS, 40, 0.05)
    # ±5 ms each way: 30..50 ms. A user-space relay on a shared 2-core machine is late now
    # and then, so a few samples past the edge are the host's noise, not the relay's.
    inside = [r for r in rtts if 29 <= r <= 52]
    assert len(inside) >= 0.9 * len(rtts) and abs(statistics.median(rtts) - 40) <= 5, rtts
    assert statistics.pstdev(rtts) >= 2, rtts  # the jitter is really there (uniform: 4.1)
    lab.set_delay(0)
    assert statistics.median(ping_rtts(lab, BPJS, 10, 0.02)) < base + 1


def _iperf(lab: Lab, *args: str) -> float:
    proc = lab.run_in_phone(
        ["iperf3", "-c", "10.201.0.40", "-t", "2", "-O", "1", "-J", *args], timeout=30
    )
    result = json.loads(proc.stdout)
    assert "error" not in result, result.get("error")
    return float(result["end"]["sum_received"]["bits_per_second"]) / 1e6


def test_tbf_rate_measured_by_iperf3(lab: Lab) -> None:
    server = lab.popen_in(
        "internet",
        ["iperf3", "-s", "-B", "10.201.0.40"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.2)
        lab.set_rate(10)
        up, down = _iperf(lab), _iperf(lab, "-R")
        assert abs(up - 10) <= 1 and abs(down - 10) <= 1, (up, down)
    finally:
        server.terminate()
        server.wait(5)


# --- life cycle ---------------------------------------------------------------------------


def _root_links() -> set[str]:
    return set(
        re.findall(
            r"^\d+: ([^:@]+)",
            subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout,
            re.M,
        )
    )


def test_start_stop_leaves_nothing_behind(lab_session: Lab) -> None:
    # A second lab next to the session's: unique names, no clash, then nothing left.
    links_before = _root_links()
    with Lab() as other:
        names, pids, tmp = other.namespaces, other.pids(), other.tmp
        assert set(names) <= set(list_names())
        assert other.started_in < 3
        # Usable at once: the phone's interface is already operationally up.
        assert "state UP" in other.run_in_phone(["ip", "-o", "link", "show", "eth0"]).stdout
        other.add_vpn("tun0")
        pids = other.pids()
        assert _root_links() == links_before
    assert not set(names) & set(list_names())
    assert not any((NETNS_ETC / n).exists() for n in names)
    assert not tmp.exists()
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    assert set(lab_session.namespaces) <= set(list_names())  # the session lab is untouched


def test_cleanup_stale_removes_a_killed_runs_leftovers() -> None:
    reason = Lab.unavailable_reason()
    if reason:
        pytest.skip(reason)
    dead = subprocess.Popen(["true"])
    dead.wait()
    name = f"jmo-inet-{dead.pid}-0"
    subprocess.run(["ip", "netns", "add", name], check=True)
    (NETNS_ETC / name).mkdir(parents=True, exist_ok=True)
    sleeper = subprocess.Popen(["ip", "netns", "exec", name, "sleep", "30"])
    time.sleep(0.1)
    try:
        assert name in cleanup_stale()
        assert name not in list_names() and not (NETNS_ETC / name).exists()
        assert sleeper.wait(5) is not None
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
