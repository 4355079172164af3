"""Running logsentry as a well-behaved systemd service.

`notify` speaks the sd_notify datagram protocol, `watchdog` pings systemd from
the event loop, `http` serves `/metrics`, `/healthz` and `/readyz`, and
`ServiceNotifier` (in `notify`) bundles what the daemon calls at each stage of
its life.
"""
