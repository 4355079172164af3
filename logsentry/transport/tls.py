"""TLS client settings and contexts for sinks and the Kafka source: verification on by default."""

from __future__ import annotations

import ssl

from logsentry.core.config_base import StrictModel


class TlsConfig(StrictModel):
    """TLS client settings. Verification is on unless explicitly turned off."""

    verify: bool = True
    # A PEM bundle of CAs to trust instead of the system store (private PKI).
    ca_file: str | None = None
    # Client certificate and key (mutual TLS), PEM.
    cert_file: str | None = None
    key_file: str | None = None
    # Name to verify in the server certificate; defaults to the host.
    server_hostname: str | None = None


def client_context(config: TlsConfig) -> ssl.SSLContext:
    """An SSL context for a client connection, from its `tls` settings.

    With `verify: false` the certificate and host name are not checked; that
    is only ever explicit in the configuration, never a fallback.
    """
    context = ssl.create_default_context(cafile=config.ca_file)
    if config.cert_file:
        context.load_cert_chain(config.cert_file, config.key_file)
    if not config.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
