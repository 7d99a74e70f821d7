"""What can go wrong in routing, as exceptions the desk turns into operator-facing texts.

    RoutingError
    ├── QueueError                      an operation on the live queue was refused
    │   ├── NotQueued                   the conversation is neither waiting nor assigned
    │   ├── AlreadyTaken(holder)        another operator holds it
    │   ├── OverCapacity(operator_id, capacity)
    │   └── OperatorUnavailable(operator_id)   transfer to an operator who is offline
    └── ServiceLevelsError(path, line, message)   the service levels file is invalid

Every refusal is raised before anything changed: the Lua scripts check, then write.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "AlreadyTaken",
    "NotQueued",
    "OperatorUnavailable",
    "OverCapacity",
    "QueueError",
    "RoutingError",
    "ServiceLevelsError",
]


class RoutingError(Exception):
    """Base of everything routing raises on purpose."""


class QueueError(RoutingError):
    """The live queue refused an operation; nothing was changed."""


class NotQueued(QueueError):
    def __init__(self, conversation_id: int) -> None:
        super().__init__(f"conversation {conversation_id} is not in the queue")
        self.conversation_id = conversation_id


class AlreadyTaken(QueueError):
    def __init__(self, holder: int, conversation_id: int | None = None) -> None:
        super().__init__(f"conversation {conversation_id} is already taken by operator {holder}")
        self.holder = holder
        self.conversation_id = conversation_id


class OverCapacity(QueueError):
    def __init__(self, operator_id: int, capacity: int) -> None:
        super().__init__(f"operator {operator_id} already has {capacity} conversations (capacity)")
        self.operator_id = operator_id
        self.capacity = capacity


class OperatorUnavailable(QueueError):
    def __init__(self, operator_id: int) -> None:
        super().__init__(f"operator {operator_id} is offline")
        self.operator_id = operator_id


class ServiceLevelsError(RoutingError):
    """Start-up refused: the message is `path:line: what is wrong`."""

    def __init__(self, path: Path | None, line: int | None, message: str) -> None:
        where = str(path) if path is not None else "<service levels>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.message = message
