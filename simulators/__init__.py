"""Simulated district-heating network: physics and the PLC servers that expose it."""
