"""Which hosts gameday may send load or forward faults to: loopback, or what the operator lists.

An `http` target's host, and the upstream of a `gameday proxy`, must be loopback
(127.0.0.0/8, ::1, `localhost`) unless the person who owns the machine that runs
gameday lists the host in $GAMEDAY_ALLOWED_HOSTS (comma-separated: names, IP
addresses, or networks such as 10.1.0.0/16). The list never comes from a spec,
for the same reason as $GAMEDAY_ALLOWED_CONTEXTS: whoever writes a game day is not
necessarily whoever owns the hosts it would hit.

Hosts are compared as written, never resolved: a DNS lookup would already be a
packet sent on behalf of a target that may be refused.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

ALLOWED_HOSTS_ENV = "GAMEDAY_ALLOWED_HOSTS"
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def allowed_hosts(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The entries of $GAMEDAY_ALLOWED_HOSTS (empty when unset), lower-cased."""
    raw = (os.environ if env is None else env).get(ALLOWED_HOSTS_ENV, "")
    return tuple(entry.strip().lower().strip("[]") for entry in raw.split(",") if entry.strip())


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback IP literals; a name is never looked up."""
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_allowed(host: str, env: Mapping[str, str] | None = None) -> bool:
    """Loopback, or listed in $GAMEDAY_ALLOWED_HOSTS (by name, address, or a network holding the address)."""
    host = host.strip("[]").lower()
    if is_loopback(host):
        return True
    for entry in allowed_hosts(env):
        if entry == host or _in_network(host, entry):
            return True
    return False


def _in_network(host: str, entry: str) -> bool:
    if "/" not in entry:
        return False
    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False


def host_problem(host: str, what: str, env: Mapping[str, str] | None = None) -> str | None:
    """Why `host` may not be used (a sentence naming `what`), or None when it is allowed."""
    if is_allowed(host, env):
        return None
    listed = ", ".join(allowed_hosts(env)) or "nothing"
    return (
        f"{what} host '{host}' is not loopback and not allowed: ${ALLOWED_HOSTS_ENV} lists {listed}; "
        f"whoever owns that host allows it on this machine with `export {ALLOWED_HOSTS_ENV}={host}`"
    )


def url_problem(url: str, what: str = "target", env: Mapping[str, str] | None = None) -> str | None:
    """As `host_problem` for the host of an http(s) URL (a URL without a host is a problem too)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        host = None
    if not host:
        return f"{what} '{url}' has no host"
    return host_problem(host, what, env)


def address_problem(address: str, what: str, env: Mapping[str, str] | None = None) -> str | None:
    """As `host_problem` for a 'host:port' (or '[v6]:port') address."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        return f"{what} '{address}' is not an address like 127.0.0.1:5672"
    return host_problem(host, what, env)
