"""Alerting on failure-rate spikes: rules, the per-series detector, notifiers."""
