"""Detection: rules and correlation that turn labelled events into alerts.

`Detector` (logsentry.detect.detector) is the stage the pipeline runs.
"""
