"""Which addresses tracker may connect to (SSRF), and a connection that goes only to a checked one.

A feed or a page can name any host; the host's DNS can answer anything, and answer differently
a second later (rebinding). So the check is made where the connection is made: the network
backend below resolves the name, refuses the whole answer if any address is not globally
routable, and connects to an address it checked. TLS and the Host header still use the name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> getaddrinfo's answer; the event loop's resolver unless a test gives its own.
Resolver = Callable[[str, int], Awaitable[list[tuple[Any, ...]]]]

NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
# Tunnels whose other end is an IPv4 address anyone can write into the IPv6 one.
TUNNELS = (ipaddress.ip_network("2002::/16"), ipaddress.ip_network("2001::/32"))


class RefusedAddress(Exception):
    """tracker will not connect to this host; the message says why. ``private``: it is (or
    resolves to) an address tracker must not reach (SSRF); otherwise DNS gave no address at all."""

    def __init__(self, message: str, *, private: bool):
        super().__init__(message)
        self.private = private


def is_public_address(address: IPAddress) -> bool:
    """Whether ``address`` is globally routable in fact: not private, loopback, link-local,
    reserved or multicast, and no IPv6 form that carries such an IPv4 address (mapped,
    IPv4-compatible, NAT64) or tunnels to an arbitrary one (6to4, Teredo)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public_address(address.ipv4_mapped)
        if int(address) >> 32 == 0:  # ::a.b.c.d, IPv4-compatible (deprecated), and :: itself
            return False
        if any(address in network for network in TUNNELS):
            return False
        if any(address in network for network in NAT64):
            return is_public_address(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return address.is_global and not address.is_multicast


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return None


def is_local_name(host: str) -> bool:
    host = host.lower().rstrip(".")
    return host == "localhost" or host.endswith(".localhost")


def private_address_named(host: str) -> str | None:
    """The private address (or local name) ``host`` literally is, as an error shows it; None
    for a public address or a name (which PinnedBackend resolves and checks)."""
    if is_local_name(host):
        return host.rstrip(".")
    address = literal_address(host)
    if address is None or is_public_address(address):
        return None
    return str(getattr(address, "ipv4_mapped", None) or address)


async def resolve_public(host: str, port: int, resolver: Resolver | None = None) -> list[str]:
    """The addresses ``host`` resolves to, all of them public; raises RefusedAddress otherwise."""
    resolve = resolver or _system_resolver
    try:
        infos = await resolve(host, port)
    except socket.gaierror:
        raise RefusedAddress(f"{host} could not be found (DNS lookup failed)", private=False) from None
    addresses = [str(info[4][0]).split("%")[0] for info in infos]
    for text in addresses:
        address = ipaddress.ip_address(text)
        if not is_public_address(address):
            raise RefusedAddress(f"{host} resolves to a private address ({address}): refused", private=True)
    if not addresses:
        raise RefusedAddress(f"{host} could not be found (DNS lookup failed)", private=False)
    return list(dict.fromkeys(addresses))


async def _system_resolver(host: str, port: int) -> list[tuple[Any, ...]]:
    return await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects to a name only through addresses checked by resolve_public, resolved once per
    connection, so no later DNS answer can move it. Literal addresses and localhost are the
    caller's choice (a configured local source), which PinnedTransport holds it to."""

    def __init__(self, resolver: Resolver | None = None):
        self._inner = httpcore.AnyIOBackend()
        self._resolver = resolver

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        if literal_address(host) is not None or is_local_name(host):
            return await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        addresses = await resolve_public(host, port, self._resolver)
        for index, address in enumerate(addresses):
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError:
                if index == len(addresses) - 1:
                    raise
        raise AssertionError("unreachable: resolve_public returns at least one address")

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise RefusedAddress("unix sockets are not web addresses", private=True)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


# The request extension by which a caller lets one request go to a private address literally
# named (the URL of a source the operator configured there, or a redirect such a source may
# follow). Without it the transport refuses: a request that skipped the caller's own check is
# still stopped where the connection is made, with the host read as httpx connects to it.
ALLOW_PRIVATE = "tracker_allow_private"


class PinnedTransport(httpx.AsyncBaseTransport):
    """httpx's transport with its connections on a PinnedBackend, pooled per origin; a private
    address literally named only with ALLOW_PRIVATE.

    httpcore's pool checks every connection it holds each time a request comes or goes (a
    system call or two each): one pool for a pass over dozens of hosts made that quadratic,
    while one origin's pool holds the few connections the per-host limit lets it use. The
    pools of the origins used least recently are closed when idle, so that a pass over
    hundreds of hosts keeps as many sockets open as ``limits.max_keepalive_connections`` pools.
    """

    def __init__(self, limits: httpx.Limits, resolver: Resolver | None = None):
        self._limits = limits
        self._backend = PinnedBackend(resolver)
        self._ssl_context = httpx.create_ssl_context()  # once: loading the CA bundle takes a while
        # In order of use, the most recent last.
        self._origins: dict[tuple[str, str, int | None], _PinnedPool] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not request.extensions.get(ALLOW_PRIVATE):
            named = private_address_named(request.url.raw_host.decode("ascii").lower())
            if named is not None:
                raise RefusedAddress(f"a private address ({named}): refused", private=True)
        origin = (request.url.scheme, request.url.host, request.url.port)
        if origin not in self._origins:
            for idle in self._take_idle():
                await idle.aclose()
        # No await from here until the request holds a connection: a pool is never idle, and
        # so never closed, between being chosen and being used.
        pool = self._origins.pop(origin, None) or _PinnedPool(self._limits, self._backend, self._ssl_context)
        self._origins[origin] = pool
        return await pool.handle_async_request(request)

    def _take_idle(self) -> list[_PinnedPool]:
        """The idle pools beyond the ``max_keepalive_connections`` used most recently, taken out
        of use (no await here, so no request can be given one of them meanwhile)."""
        keep = self._limits.max_keepalive_connections
        if keep is None:
            return []
        idle = [origin for origin, pool in list(self._origins.items())[:-keep] if pool.is_idle()]
        return [self._origins.pop(origin) for origin in idle]

    async def aclose(self) -> None:
        for pool in self._origins.values():
            await pool.aclose()


class _PinnedPool(httpx.AsyncHTTPTransport):
    """httpx's transport (its errors mapped to httpx's) with its pool on a PinnedBackend."""

    def __init__(self, limits: httpx.Limits, backend: PinnedBackend, ssl_context: ssl.SSLContext):
        super().__init__(verify=ssl_context, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )

    def is_idle(self) -> bool:
        """No request in flight: every connection idle (one being opened is not)."""
        return all(connection.is_idle() for connection in self._pool.connections)
