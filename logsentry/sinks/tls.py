"""TLS client contexts for the sinks: verification on by default."""

from __future__ import annotations

import ssl

from logsentry.sinks.config import TlsConfig


def client_context(config: TlsConfig) -> ssl.SSLContext:
    """An SSL context for a sink connection, from its `tls` settings.

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
