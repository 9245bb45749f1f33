"""Usage -> standard units, energy and carbon. Pure functions of values."""

from suanli.metering.compute import (
    DEFAULT_INTENSITY,
    carbon_kg,
    effective_tflops,
    energy_kwh,
    runtime_on,
    speed_ratio,
)

__all__ = ["DEFAULT_INTENSITY", "carbon_kg", "effective_tflops", "energy_kwh", "runtime_on", "speed_ratio"]
