"""Methods for connectors. MQTT: from_mqtt, to_mqtt."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class MqttMethods(Generic[T]):
    """MQTT: from_mqtt, to_mqtt."""
