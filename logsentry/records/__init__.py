"""Decoders of security event records whose format fixes their fields and meaning.

Linux audit records (raw auditd lines, laurel JSON) and Windows event records
(event XML, nxlog/winlogbeat JSON) name every field themselves and carry a
type or event id that says what happened: they are decoded here instead of
being left to the model. `logsentry.envelope` dispatches to them.
"""
