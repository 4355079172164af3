"""Running logsentry as a well-behaved systemd service.

`notify` speaks the sd_notify datagram protocol (`ServiceNotifier` bundles what
the daemon tells systemd at each stage of its life), `watchdog` pings systemd
from the event loop, `status` writes the one-line STATUS= summary, `http`
serves `/metrics`, `/healthz` and `/readyz`, and `lifecycle` (`ServiceLifecycle`)
starts and stops them together around the pipeline.
"""
