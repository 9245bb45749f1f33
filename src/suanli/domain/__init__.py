"""Frozen value types of suanli: units, accelerators, sites and pools, network, tenancy, jobs.

Nothing here does I/O beyond reading the packaged accelerator catalog, reads the clock or
draws random numbers.
"""
