"""Discrete-event simulator: a clock, a cluster and sinks around the same ``schedule()`` the live loop calls."""
