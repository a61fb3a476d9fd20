"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives.

Faults come as providers send them: 451 rate limited, 554 spam, or no server at all.
"""

import logging
import socket
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.servers.certs import session_certificate

log = logging.getLogger(__name__)

HOST = "127.0.0.1"

Stage = Literal["MAIL", "RCPT", "DATA"]


@dataclass(frozen=True)
class Received:
    """One accepted mail: the envelope apart from the bytes of the message."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    at: float  # time.time() when DATA was accepted
    login: str | None = None  # the AUTH user name, when the client logged in
    tls: bool = False  # True when the mail came over STARTTLS or implicit TLS

    def message(self) -> EmailMessage:
        """The data parsed with the modern email policy."""
        return BytesParser(policy=default_policy).parsebytes(self.data)


@dataclass(frozen=True)
class _Fault:
    code: int
    text: str
    at: Stage

    @property
    def reply(self) -> str:
        return f"{self.code} {self.text}"


class SmtpServer:
    """An aiosmtpd Controller on 127.0.0.1 that can be stopped and restarted.

    The port is chosen once, so a restart comes back where clients expect
    it, as a real server does after an outage.
    """

    host = HOST

    def __init__(
        self,
        *,
        auth: tuple[str, str] | None = None,
        starttls: bool = False,
        implicit_tls: bool = False,
    ) -> None:
        self.port = _free_port()
        self.auth = auth
        self.starttls = starttls
        self.implicit_tls = implicit_tls
        self._messages: list[Received] = []
        self._faults: deque[_Fault] = deque()
        self._changed = threading.Condition()
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[Received]:
        """A snapshot of every mail accepted so far, oldest first."""
        with self._changed:
            return list(self._messages)

    def start(self) -> None:
        """Listen on the server's port (the same one after a stop)."""
        if self._controller is not None:
            raise RuntimeError("this SMTP server is already running")

        options: dict[str, Any] = {}
        if self.starttls:
            options["tls_context"] = session_certificate().server_context()
        if self.implicit_tls:
            options["ssl_context"] = session_certificate().server_context()
        if self.auth is not None:
            # Tests log in over plain loopback, which aiosmtpd refuses unless
            # auth_require_tls is off. Its own auth_required would then warn
            # on every connection, so _Handler demands the login at MAIL.
            options.update(authenticator=self._authenticate, auth_require_tls=False)

        controller = Controller(
            _Handler(self),
            hostname=self.host,
            port=self.port,
            server_hostname="smtp.suqiu.test",
            **options,
        )
        controller.start()
        self._controller = controller
        log.info("SMTP server up on %s:%d", self.host, self.port)

    def stop(self) -> None:
        """Close the port and drop every open connection; safe to call twice."""
        controller = self._controller
        if controller is None:
            return
        self._controller = None
        controller.stop()
        log.info("SMTP server on %s:%d stopped", self.host, self.port)

    def refuse_next(
        self, code: int, text: str, *, count: int = 1, at: Stage = "DATA"
    ) -> None:
        """Answer the next ``count`` transactions with ``code text`` at ``at``.

        At RCPT every recipient of the transaction is refused.
        """
        if not 400 <= code < 600:
            raise ValueError(f"{code} is not a refusal")
        with self._changed:
            self._faults.extend(_Fault(code, text, at) for _ in range(count))

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        """Block until at least ``count`` mails arrived; return them all."""
        with self._changed:
            arrived = self._changed.wait_for(
                lambda: len(self._messages) >= count, timeout
            )
            if not arrived:
                raise TimeoutError(
                    f"{len(self._messages)} of {count} mails arrived within {timeout}s"
                )
            return list(self._messages)

    def clear(self) -> None:
        """Forget the mails received so far (pending faults stay)."""
        with self._changed:
            self._messages.clear()

    def __enter__(self) -> "SmtpServer":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- called by _Handler, in the server's thread ---------------------------

    def _take_fault(self) -> _Fault | None:
        with self._changed:
            return self._faults.popleft() if self._faults else None

    def _keep(self, received: Received) -> None:
        with self._changed:
            self._messages.append(received)
            self._changed.notify_all()

    def _authenticate(
        self,
        server: Any,
        session: Any,
        envelope: Any,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        if self.auth is None or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = self.auth
        success = auth_data == (user.encode(), password.encode())
        return AuthResult(success=success, handled=False, auth_data=user)


class _Handler:
    """aiosmtpd's hooks: they take a fault at MAIL and keep it for the rest."""

    def __init__(self, owner: SmtpServer) -> None:
        self._owner = owner
        # aiosmtpd starts a new envelope for every transaction, so a fault
        # keyed by the envelope lasts exactly one transaction.
        self._faults: weakref.WeakKeyDictionary[Any, _Fault] = (
            weakref.WeakKeyDictionary()
        )

    async def handle_MAIL(
        self,
        server: Any,
        session: Any,
        envelope: Any,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self._owner.auth is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"

        fault = self._owner._take_fault()
        if fault is not None:
            self._faults[envelope] = fault
            if fault.at == "MAIL":
                return fault.reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: Any,
        session: Any,
        envelope: Any,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        fault = self._faults.get(envelope)
        if fault is not None and fault.at == "RCPT":
            return fault.reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        fault = self._faults.get(envelope)
        if fault is not None and fault.at == "DATA":
            return fault.reply

        self._owner._keep(
            Received(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                data=bytes(envelope.original_content),
                at=time.time(),
                login=session.auth_data if session.authenticated else None,
                tls=server.transport.get_extra_info("ssl_object") is not None,
            )
        )
        return "250 2.0.0 OK: queued"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
    return port
