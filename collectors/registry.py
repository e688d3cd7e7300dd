"""Which collector class speaks which `protocol:` of the site file."""

from __future__ import annotations

from importlib import import_module

from collectors.base import CollectorFactory

_COLLECTORS = {
    "modbus": "collectors.modbus:ModbusCollector",
    "opcua": "collectors.opcua:OpcUaCollector",
}


def collector_for(protocol: str) -> CollectorFactory:
    """The collector class for a protocol; imported on first use so each stays optional."""
    try:
        module, name = _COLLECTORS[protocol].split(":")
    except KeyError:
        raise ValueError(f"no collector speaks protocol {protocol!r}") from None
    factory: CollectorFactory = getattr(import_module(module), name)
    return factory
