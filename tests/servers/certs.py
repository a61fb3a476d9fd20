"""A self-signed certificate for the loopback test servers, made once per session.

Clients trust exactly this certificate, so TLS is verified for real, not skipped.
"""

import atexit
import functools
import shutil
import ssl
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Certificate:
    """A certificate for localhost and 127.0.0.1, with its private key."""

    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        """A client context that verifies the server against this certificate."""
        return ssl.create_default_context(cafile=str(self.cert))

    def server_context(self) -> ssl.SSLContext:
        """A server context that presents this certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


def make_certificate(folder: Path) -> Certificate:
    """Make a fresh self-signed certificate in ``folder`` with openssl."""
    cert = folder / "cert.pem"
    key = folder / "key.pem"

    # The IP address in subjectAltName lets clients that connect to
    # 127.0.0.1 check the host name too; an EC key is made in milliseconds,
    # an RSA one takes a noticeable fraction of a second.
    subprocess.run(
        [
            "openssl", "req", "-x509", "-nodes", "-days", "30",
            "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return Certificate(cert=cert, key=key)


@functools.cache
def session_certificate() -> Certificate:
    """The one certificate every server of this test session presents."""
    folder = Path(tempfile.mkdtemp(prefix="suqiu-tls-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return make_certificate(folder)
