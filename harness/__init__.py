"""Reliability harness (issue 3): crash under load, dependency faults, saturation."""
