"""A Modbus device that misbehaves on purpose: raw MBAP (or RTU) frames over asyncio TCP.

Hand-written because pymodbus's server always frames its replies correctly: it cannot be
made to send a wrong byte count, a stranger's transaction id, half a frame, a reset in
the middle of a reply or an exception code the standard does not define. This one
answers function 3 and 4 reads from a register list, healthy unless told otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct

HEALTHY = "healthy"
MODES = [
    "byte_count",  # the PDU's byte count says more than the data it carries
    "short_data",  # a consistent frame with fewer registers than asked for
    "mbap_long",  # the MBAP length promises bytes that never come
    "mbap_short",  # the MBAP length cuts the PDU short
    "transaction_id",  # the reply of some other transaction
    "unit_id",  # the reply of some other unit
    "function_code",  # a function 4 reply to a function 3 read
    "truncated",  # half a frame, then silence
    "garbage",  # random bytes
    "undefined_exception",  # an exception reply with code 0x7f
    "oversized",  # a frame far beyond the 260 bytes Modbus TCP allows
    "reset",  # part of the reply, then a TCP reset
    "silent",  # takes the request, never answers
]
RTU_MODES = ["bad_crc", "truncated", "garbage", "unit_id", "silent"]


def crc16(data: bytes) -> bytes:
    """The Modbus RTU CRC, low byte first."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return struct.pack("<H", crc)


class RogueDevice:
    """A TCP listener on 127.0.0.1 whose replies follow `mode`; `framer` socket or rtu."""

    def __init__(self, registers: list[int], framer: str = "socket") -> None:
        self.registers = registers
        self.framer = framer
        self.mode = HEALTHY
        self.requests = 0
        self._server: asyncio.Server | None = None
        self._random = random.Random(7)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                if self.framer == "rtu":
                    frame = await reader.readexactly(8)
                    tid, unit, pdu = 0, frame[0], frame[1:6]
                else:
                    tid, _, length, unit = struct.unpack(">HHHB", await reader.readexactly(7))
                    pdu = await reader.readexactly(length - 1)
                self.requests += 1
                if not await self._answer(writer, tid, unit, pdu):
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def _frame(self, tid: int, unit: int, pdu: bytes, length: int | None = None) -> bytes:
        if self.framer == "rtu":
            return bytes([unit]) + pdu + crc16(bytes([unit]) + pdu)
        return struct.pack(">HHHB", tid, 0, len(pdu) + 1 if length is None else length, unit) + pdu

    async def _answer(
        self, writer: asyncio.StreamWriter, tid: int, unit: int, request: bytes
    ) -> bool:
        """Send the reply `mode` calls for; False to end the connection."""
        function, address, count = struct.unpack(">BHH", request[:5])
        data = b"".join(struct.pack(">H", r) for r in self.registers[address : address + count])
        pdu = bytes([function, len(data)]) + data
        mode = self.mode
        if mode == "silent":
            return True
        reply = {
            HEALTHY: lambda: self._frame(tid, unit, pdu),
            "byte_count": lambda: self._frame(tid, unit, bytes([function, len(data) + 8]) + data),
            "short_data": lambda: self._frame(
                tid, unit, bytes([function, len(data) - 2]) + data[2:]
            ),
            "mbap_long": lambda: self._frame(tid, unit, pdu, len(pdu) + 40),
            "mbap_short": lambda: self._frame(tid, unit, pdu, 3),
            "transaction_id": lambda: self._frame((tid + 1) & 0xFFFF, unit, pdu),
            "unit_id": lambda: self._frame(tid, (unit + 1) & 0xFF, pdu),
            "function_code": lambda: self._frame(tid, unit, bytes([4]) + pdu[1:]),
            "truncated": lambda: self._frame(tid, unit, pdu)[:5],
            "garbage": lambda: self._random.randbytes(40),
            "undefined_exception": lambda: self._frame(tid, unit, bytes([function | 0x80, 0x7F])),
            "oversized": lambda: self._frame(tid, unit, bytes([function, 0xFF]) + b"\x00" * 65000),
            "reset": lambda: self._frame(tid, unit, pdu)[:6],
            "bad_crc": lambda: self._frame(tid, unit, pdu)[:-2] + b"\xde\xad",
        }[mode]()
        writer.write(reply)
        await writer.drain()
        if mode == "reset":  # SO_LINGER 0: close sends RST, not FIN
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        return True
