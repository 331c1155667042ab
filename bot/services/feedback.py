"""Partner feedback pulses and ``feedback`` (being built)."""
