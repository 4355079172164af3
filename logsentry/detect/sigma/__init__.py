"""Sigma rules (docs/sigma.md): loaded and validated with pySigma, evaluated in memory
on every event, selected through a literal prefilter, alerting like native rules."""
