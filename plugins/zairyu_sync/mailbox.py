"""A local SMTP server that keeps what it receives as ``.eml`` files (demo and tests).

It is a real SMTP server (aiosmtpd) on a loopback port, so the pipeline's delivery path is exercised
exactly as against a company relay.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller

log = logging.getLogger(__name__)


@dataclass
class ReceivedMail:
    """One message as the server received it."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> Message:
        return message_from_bytes(self.raw)


@dataclass
class _Handler:
    directory: Path | None
    received: list[ReceivedMail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content
        mail = ReceivedMail(
            str(envelope.mail_from), [str(r) for r in envelope.rcpt_tos], bytes(raw)
        )
        with self.lock:
            self.received.append(mail)
            number = len(self.received)
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            (self.directory / f"{stamp}-{number:04d}.eml").write_bytes(mail.raw)
        return "250 Message accepted for delivery"


class LocalMailServer:
    """Run an SMTP server on ``127.0.0.1`` in a background thread.

    Args:
        directory: where to save each message as ``<UTC time>-NNNN.eml`` (None: memory only).
        port: the port; 0 picks a free one.
    """

    def __init__(self, directory: Path | None = None, *, port: int = 0) -> None:
        self._handler = _Handler(directory)
        self._requested_port = port
        self._controller: Controller | None = None

    @property
    def received(self) -> list[ReceivedMail]:
        with self._handler.lock:
            return list(self._handler.received)

    @property
    def port(self) -> int:
        if self._controller is None:
            raise RuntimeError("mail server not started")
        return int(self._controller.port)

    def start(self) -> LocalMailServer:
        port = self._requested_port
        if port == 0:
            import socket

            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = int(sock.getsockname()[1])
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=port)
        self._controller.start()
        log.info("local SMTP server listening on 127.0.0.1:%d", port)
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> LocalMailServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
