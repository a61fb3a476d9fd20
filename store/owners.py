"""Who holds a lease or a claim: "host:pid", and whether that process lives.

A service killed outright leaves its mailbox lease and its outbox claims
behind. On the same host we can tell that it is gone and take over at
once; a holder on another host is trusted until its lease runs out.
"""

import os
import socket


def me() -> str:
    """This process, as written into leases and claims."""
    return f"{socket.gethostname()}:{os.getpid()}"


def is_dead(owner: str | None) -> bool:
    """True when *owner* is a process of this host that no longer runs."""
    if not owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists, under another user
    return False
