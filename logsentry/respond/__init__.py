"""Active response: alerts become decisions (ban, captcha, throttle) on the attacker's address.

`policy` turns an alert into a decision (allowlist, escalation, the cap), `store`
keeps decisions durably in the state directory, `responder` sits in front of the
alert outputs, `lapi` serves them to CrowdSec bouncers, `nftables` enforces them
itself, and `bouncer_keys` holds the bouncers' API keys, hashed.
"""
