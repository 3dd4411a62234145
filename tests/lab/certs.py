"""Test certificates: one trusted CA and the server certificate variants the TLS faults use.

All lab names share one leaf per variant (each with every lab name as a SAN), so switching
a host's certificate fault is only a matter of which file the web server hands out.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .addresses import BLOCKPAGE_NAME, HOSTS

# Fault name → what it simulates.
VARIANTS = (
    "good",
    "expired",  # validity ended a week ago
    "not_yet_valid",  # valid only from a week from now
    "expiring",  # valid, but ends in 5 days (tls.expiring)
    "wrong_host",  # valid, trusted, but for another name
    "self_signed",  # a leaf that signs itself
    "other_ca",  # issued by a CA the config does not trust (an intercepting proxy)
    "blockpage",  # what the TrustPositif block page presents
)


def _self_signed(names: list[str], path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.write_bytes(key_pem + cert.public_bytes(serialization.Encoding.PEM))


def make(directory: Path) -> tuple[Path, dict[str, Path]]:
    """Write ``ca.pem`` and one key+chain PEM per variant; return (ca path, variant → path)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="jmo-doctor lab CA")
    rogue = trustme.CA(organization_name="Intercepting Proxy CA")
    names = [n for n in HOSTS if n != BLOCKPAGE_NAME]
    now = dt.datetime.now(dt.UTC)
    week = dt.timedelta(days=7)
    leaves = {
        "good": ca.issue_cert(*names),
        "expired": ca.issue_cert(*names, not_before=now - 5 * week, not_after=now - week),
        "not_yet_valid": ca.issue_cert(*names, not_before=now + week, not_after=now + 5 * week),
        "expiring": ca.issue_cert(
            *names, not_before=now - week, not_after=now + dt.timedelta(days=5)
        ),
        "wrong_host": ca.issue_cert("wrong.host.example"),
        "other_ca": rogue.issue_cert(*names),
        "blockpage": ca.issue_cert(BLOCKPAGE_NAME),
    }
    paths: dict[str, Path] = {}
    for variant, leaf in leaves.items():
        paths[variant] = directory / f"{variant}.pem"
        leaf.private_key_and_cert_chain_pem.write_to_path(str(paths[variant]))
    paths["self_signed"] = directory / "self_signed.pem"
    _self_signed(names, paths["self_signed"])
    ca_path = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    return ca_path, paths
