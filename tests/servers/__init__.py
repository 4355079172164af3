"""Real servers on loopback for the sink tests: HTTP receivers, rsyslogd, Tansu."""
