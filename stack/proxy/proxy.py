"""Named proxies and the collection that owns them, with TTLs for every fault.

A `Proxy` listens on a loopback address and forwards each connection to its
upstream. A collection made with `allow_pod_address=True` (`python -m stack.proxy
--allow-pod-address`, what the gateway pod's hops sidecar runs in Kubernetes) may
also listen on any IP address of its host (0.0.0.0, the pod's IP) and forward to
any IP address or DNS name (a Service such as `model-replica:8000`); the local
stack never sets it, so it stays on loopback. Its toxics live in `Proxy.toxics`; every change is pushed into the
open connections at once. A proxy disabled through the API closes its listener,
drops its connections, and enables itself again when its TTL runs out.

`ProxyCollection` is what the HTTP API drives. Its reaper removes expired
toxics and re-enables expired disables; it wakes at the next deadline (and at
least every `REAP_INTERVAL_S`), so a fault outlives its TTL by well under a
second, and open connections see the removal on their next chunk.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import re
import time
from collections.abc import Callable
from typing import Any, TypedDict

from stack.proxy.errors import BadRequest, Conflict, NotFound
from stack.proxy.link import Connection
from stack.proxy.toxics import Toxic, ToxicJson, parse_toxic, update_toxic

log = logging.getLogger("stack.proxy")

REAP_INTERVAL_S = 0.5
LOOPBACK_NAMES = ("localhost",)


class ProxyJson(TypedDict):
    """A proxy as the API sends it (Toxiproxy's fields + `disabled_until`)."""

    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: list[ToxicJson]
    disabled_until: float | None  # UTC epoch seconds when a disable expires, else null


def parse_address(
    value: Any, field: str, allowed: Callable[[str], bool] | None = None, pod: bool = False
) -> tuple[str, int]:
    """'host:port' (or '[v6]:port') on a loopback host, or one `allowed(host)` accepts; BadRequest otherwise.

    `pod` (allow_pod_address) also accepts any IP address, and for `upstream` any DNS name.
    """
    if not isinstance(value, str) or ":" not in value:
        raise BadRequest(f"{field}: {value!r} is not an address like '127.0.0.1:8080'")
    host, _, port = value.rpartition(":")
    host = host.strip("[]")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise BadRequest(f"{field}: '{value}' has no valid port (0..65535)")
    if pod and (_is_ip(host) or (field == "upstream" and _DNS_NAME.match(host))):
        return host, int(port)
    if not _is_loopback(host) and not (allowed and allowed(host)):
        raise BadRequest(
            f"{field}: '{value}' is not a loopback address; "
            "the fault proxy only binds and connects on loopback (use 127.0.0.1:PORT)"
            + ("" if pod else "; a pod's sidecar binds the pod's address with --allow-pod-address")
        )
    return host, int(port)


_DNS_NAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$", re.IGNORECASE
)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _format(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Proxy:
    """One named listener with its upstream, toxics and enabled state."""

    def __init__(self, name: str, listen: tuple[str, int], upstream: tuple[str, int]) -> None:
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.toxics: dict[str, Toxic] = {}
        self.connections: set[Connection] = set()
        self.reenable_at: tuple[float, float] | None = None  # (epoch, monotonic) of a TTL'd disable
        self._server: asyncio.Server | None = None

    @property
    def enabled(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        """Listen (no-op when already listening); Conflict if the address is taken."""
        if self._server is not None:
            return
        host, port = self.listen
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                lambda: Connection(self).client, host, port, reuse_address=True, backlog=1024
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise Conflict(
                    f"listen address in use: '{_format(host, port)}' "
                    f"(proxy '{self.name}'); free the port or pick another"
                ) from None
            raise BadRequest(f"listen: cannot listen on '{_format(host, port)}': {exc.strerror}") from None
        self.listen = (host, self._server.sockets[0].getsockname()[1])  # resolves port 0
        self.reenable_at = None

    async def stop(self) -> None:
        """Close the listener and drop every open connection."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for conn in list(self.connections):
            conn.close("abort")

    def active_toxics(self) -> list[Toxic]:
        return list(self.toxics.values())

    def publish(self) -> None:
        """Push the current toxics into every open connection."""
        toxics = self.active_toxics()
        for conn in list(self.connections):
            conn.apply(toxics)

    def to_json(self) -> ProxyJson:
        return ProxyJson(
            name=self.name,
            listen=_format(*self.listen),
            upstream=_format(*self.upstream),
            enabled=self.enabled,
            toxics=[t.to_json() for t in self.toxics.values()],
            disabled_until=round(self.reenable_at[0], 3) if self.reenable_at else None,
        )


class ProxyCollection:
    """Every proxy of one server, the operations the API offers, and the TTL reaper."""

    def __init__(
        self,
        default_ttl: float = 300.0,
        upstream_allowed: Callable[[str], bool] | None = None,
        allow_pod_address: bool = False,
    ) -> None:
        self.default_ttl = default_ttl
        self.pod = allow_pod_address  # see the module docstring
        # non-loopback upstreams the operator allowed (`gameday proxy` passes $GAMEDAY_ALLOWED_HOSTS)
        self.upstream_allowed = upstream_allowed
        self.proxies: dict[str, Proxy] = {}
        self._wake = asyncio.Event()
        self._reaper: asyncio.Task | None = None

    # ---- proxies -------------------------------------------------------------
    def get(self, name: str) -> Proxy:
        try:
            return self.proxies[name]
        except KeyError:
            raise NotFound(f"proxy not found: '{name}'") from None

    async def create(self, body: Any) -> Proxy:
        """Create and (unless `enabled` is false) start a proxy from Toxiproxy's proxy JSON."""
        name, listen, upstream, enabled = _proxy_fields(body, self.upstream_allowed, self.pod)
        if name in self.proxies:
            raise Conflict(f"proxy already exists: '{name}'")
        proxy = Proxy(name, listen, upstream)
        if enabled:
            await proxy.start()
        self.proxies[name] = proxy
        log.info(
            "created proxy %s listen=%s upstream=%s enabled=%s",
            name,
            _format(*proxy.listen),
            _format(*upstream),
            enabled,
        )
        return proxy

    async def populate(self, body: Any) -> list[Proxy]:
        """Create the listed proxies; one that exists with the same addresses is left alone."""
        if not isinstance(body, list):
            raise BadRequest("bad request body: expected a JSON array of proxies")
        for item in body:
            _proxy_fields(item, self.upstream_allowed, self.pod)  # check them all before touching anything
        result = []
        for item in body:
            existing = self.proxies.get(item["name"])
            if (
                existing
                and existing.to_json()["upstream"] == item["upstream"]
                and _same_listen(existing, item.get("listen", "127.0.0.1:0"), self.pod)
            ):
                result.append(existing)
                continue
            if existing:
                await self.delete(existing.name)
            result.append(await self.create({**item, "enabled": True}))
        return result

    async def update(self, name: str, body: Any) -> Proxy:
        """Apply `listen`, `upstream`, `enabled` (+ `ttl` for a disable) to a proxy."""
        proxy = self.get(name)
        if not isinstance(body, dict):
            raise BadRequest("bad request body: expected a JSON object")
        listen = parse_address(body["listen"], "listen", pod=self.pod) if "listen" in body else proxy.listen
        upstream = (
            parse_address(body["upstream"], "upstream", self.upstream_allowed, self.pod)
            if "upstream" in body
            else proxy.upstream
        )
        enabled = body.get("enabled", proxy.enabled)
        if not isinstance(enabled, bool):
            raise BadRequest(f"enabled: {enabled!r} is not true or false")
        ttl = _positive(body.get("ttl"), self.default_ttl, "ttl")
        was_enabled = proxy.enabled
        if (listen, upstream) != (proxy.listen, proxy.upstream):
            await proxy.stop()  # as Toxiproxy: new addresses restart the proxy
            proxy.listen, proxy.upstream = listen, upstream
            log.info("moved proxy %s to listen=%s upstream=%s", name, _format(*listen), _format(*upstream))
        if "enabled" in body:
            await self._set_enabled(proxy, enabled, ttl)
        elif was_enabled:
            await proxy.start()
        return proxy

    async def _set_enabled(self, proxy: Proxy, enabled: bool, ttl: float) -> None:
        if enabled:
            was = proxy.enabled
            await proxy.start()
            if not was:
                log.info("enabled proxy %s", proxy.name)
            return
        await proxy.stop()
        proxy.reenable_at = (time.time() + ttl, time.monotonic() + ttl)
        self._wake.set()
        log.info("disabled proxy %s for %.1fs", proxy.name, ttl)

    async def delete(self, name: str) -> None:
        proxy = self.get(name)
        await proxy.stop()
        del self.proxies[name]
        log.info("deleted proxy %s", name)

    async def reset(self) -> None:
        """Enable every proxy and remove every toxic (Toxiproxy's POST /reset)."""
        for proxy in self.proxies.values():
            await proxy.start()
            proxy.toxics.clear()
            proxy.publish()
        log.info("reset: all proxies enabled, all toxics removed")

    # ---- toxics --------------------------------------------------------------
    def toxic(self, proxy_name: str, toxic_name: str) -> Toxic:
        try:
            return self.get(proxy_name).toxics[toxic_name]
        except KeyError:
            raise NotFound(f"toxic not found: '{toxic_name}' on proxy '{proxy_name}'") from None

    def add_toxic(self, proxy_name: str, body: Any) -> Toxic:
        proxy = self.get(proxy_name)
        toxic = parse_toxic(body, self.default_ttl)
        if toxic.name in proxy.toxics:
            raise Conflict(f"toxic already exists: '{toxic.name}' on proxy '{proxy_name}'")
        proxy.toxics[toxic.name] = toxic
        proxy.publish()
        self._wake.set()
        log.info(
            "added toxic %s to proxy %s: %s %s toxicity=%s %s ttl=%.1fs",
            toxic.name,
            proxy_name,
            toxic.type,
            toxic.stream,
            toxic.toxicity,
            toxic.attributes,
            toxic.ttl,
        )
        return toxic

    def update_toxic(self, proxy_name: str, toxic_name: str, body: Any) -> Toxic:
        toxic = update_toxic(self.toxic(proxy_name, toxic_name), body)
        proxy = self.get(proxy_name)
        proxy.toxics[toxic_name] = toxic
        proxy.publish()
        self._wake.set()
        log.info(
            "updated toxic %s on proxy %s: toxicity=%s %s ttl=%.1fs",
            toxic_name,
            proxy_name,
            toxic.toxicity,
            toxic.attributes,
            toxic.ttl,
        )
        return toxic

    def remove_toxic(self, proxy_name: str, toxic_name: str, why: str = "removed") -> None:
        self.toxic(proxy_name, toxic_name)
        proxy = self.get(proxy_name)
        del proxy.toxics[toxic_name]
        proxy.publish()
        log.info("%s toxic %s on proxy %s", why, toxic_name, proxy_name)

    # ---- TTLs ----------------------------------------------------------------
    async def expire(self) -> float:
        """Remove what has expired; return the monotonic time of the next deadline."""
        now = time.monotonic()
        upcoming = [now + REAP_INTERVAL_S]
        for proxy in list(self.proxies.values()):
            for toxic in list(proxy.toxics.values()):
                if toxic.deadline <= now:
                    self.remove_toxic(proxy.name, toxic.name, why="ttl expired: removed")
                else:
                    upcoming.append(toxic.deadline)
            if proxy.reenable_at and proxy.reenable_at[1] <= now:
                await self._reenable(proxy)
            elif proxy.reenable_at:
                upcoming.append(proxy.reenable_at[1])
        return min(upcoming)

    async def _reenable(self, proxy: Proxy) -> None:
        try:
            await proxy.start()
            log.info("ttl expired: enabled proxy %s", proxy.name)
        except (Conflict, BadRequest) as exc:
            proxy.reenable_at = (time.time() + 1, time.monotonic() + 1)  # try again shortly
            log.warning("ttl expired but proxy %s cannot listen yet: %s", proxy.name, exc)

    async def reap_forever(self) -> None:
        while True:
            self._wake.clear()
            next_deadline = await self.expire()
            try:
                await asyncio.wait_for(self._wake.wait(), max(0.0, next_deadline - time.monotonic()))
            except TimeoutError:
                pass

    def start_reaper(self) -> None:
        self._reaper = asyncio.get_running_loop().create_task(self.reap_forever())

    async def close(self) -> None:
        """Stop the reaper and every proxy (listeners and connections)."""
        if self._reaper is not None:
            self._reaper.cancel()
        for proxy in self.proxies.values():
            await proxy.stop()


def _proxy_fields(
    body: Any,
    upstream_allowed: Callable[[str], bool] | None = None,
    pod: bool = False,
) -> tuple[str, tuple[str, int], tuple[str, int], bool]:
    """Validated (name, listen, upstream, enabled) of a proxy's JSON; BadRequest lists all problems."""
    if not isinstance(body, dict):
        raise BadRequest("bad request body: expected a JSON object for a proxy")
    problems = []
    name = body.get("name")
    if not name or not isinstance(name, str):
        problems.append("missing required field: name")
    if not body.get("upstream"):
        problems.append("missing required field: upstream")
    addresses = {}
    for field, default in (("listen", "127.0.0.1:0"), ("upstream", None)):
        value = body.get(field) or default
        if value is None:
            continue
        try:
            addresses[field] = parse_address(value, field, upstream_allowed if field == "upstream" else None, pod)
        except BadRequest as exc:
            problems.append(str(exc))
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append(f"enabled: {enabled!r} is not true or false")
    if problems:
        raise BadRequest("; ".join(problems))
    assert isinstance(name, str)  # otherwise `problems` said so
    return name, addresses["listen"], addresses["upstream"], enabled


def _same_listen(proxy: Proxy, listen: str, pod: bool = False) -> bool:
    host, port = parse_address(listen, "listen", pod=pod)
    return host == proxy.listen[0] and port in (0, proxy.listen[1])


def _positive(value: Any, default: float, field: str) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise BadRequest(f"{field}: {value!r} is not a positive number of seconds")
    return float(value)
