"""What several probes share, one version of each: a probe imports from here and from
``jmo_doctor.api``, never from another probe, and nothing here imports a probe.

- ``net``: time budgets, addresses to connect to, trusted resolvers' answers
- ``tcp``: one TCP handshake timed as the kernel saw it (tcp, bandwidth)
- ``http``: the GETs of every target URL with phase timings (http, clock)
- ``tls``: TLS handshakes and certificate facts (tls, dns)
- ``command``: the one subprocess runner (system, store)
- ``errors``: the one error-text helper
- ``fingerprints``: known Indonesian block answers (``probes/data/block-fingerprints.toml``)
"""
