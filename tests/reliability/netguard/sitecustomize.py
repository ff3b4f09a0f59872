"""Loaded by every Python process started with this folder on PYTHONPATH (the privacy tests).

An audit hook records each attempt to reach a non-loopback address (socket.connect, sendto, and
name lookups of other hosts) in the file named by NETGUARD_LOG, one line per attempt, and lets the
attempt go on: the test, not this hook, decides what a recorded attempt means.
"""

from __future__ import annotations

import ipaddress
import os
import sys
import traceback

_LOG = os.environ.get("NETGUARD_LOG", "")
_LOOKUPS = ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex")
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "", None}


def _is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host in _LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(str(host).split("%")[0])
    except ValueError:
        return False  # a host name other than localhost
    return address.is_loopback or address.is_unspecified


def _record(event: str, target: object) -> None:
    stack = "".join(traceback.format_stack(limit=12)[:-2]).replace("\n", " | ")
    with open(_LOG, "a", encoding="utf-8") as handle:
        handle.write(f"{os.getpid()} {event} {target!r} :: {stack}\n")


def _hook(event: str, args: tuple) -> None:  # type: ignore[type-arg]
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        address = args[-1] if event != "socket.connect" else args[1]
        if isinstance(address, tuple) and address and not _is_loopback(address[0]):
            _record(event, address)
    elif event in _LOOKUPS and args and not _is_loopback(args[0]):
        _record(event, args[0])


if _LOG:
    sys.addaudithook(_hook)
