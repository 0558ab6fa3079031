"""Reading fixed fields off the front of a byte string, with a BadFrame when it runs short."""

from __future__ import annotations

from openamr.collect.mbus.model import BadFrame


class Reader:
    """Consumes ``data`` field by field; ``what`` names the layer in error messages."""

    __slots__ = ("_data", "_position", "_what")

    def __init__(self, data: bytes, what: str) -> None:
        self._data = data
        self._position = 0
        self._what = what

    @property
    def remaining(self) -> int:
        return len(self._data) - self._position

    def take(self, size: int, field: str) -> bytes:
        """The next ``size`` bytes; BadFrame if the data ends first."""
        if size > self.remaining:
            raise BadFrame(
                f"{self._what} ends inside its {field}: {size} bytes needed, {self.remaining} left"
            )
        chunk = self._data[self._position : self._position + size]
        self._position += size
        return chunk

    def byte(self, field: str) -> int:
        return self.take(1, field)[0]

    def little(self, size: int, field: str) -> int:
        """An unsigned little-endian integer of ``size`` bytes."""
        return int.from_bytes(self.take(size, field), "little")

    def rest(self) -> bytes:
        """Everything not read yet."""
        chunk = self._data[self._position :]
        self._position = len(self._data)
        return chunk
