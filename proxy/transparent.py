"""Transparent mode: clients did not choose the gate; the network sent their connections here.

iptables/nftables REDIRECT hands metagate connections meant for somewhere else, and mitmproxy
recovers each one's original destination (SO_ORIGINAL_DST). That address decides, as
`EgressAllowList` does for forward mode: ZenML upstreams are intercepted and inspected,
allow-listed storage passes as opaque bytes (TLS not intercepted), everything else is refused.

A name (TLS SNI, HTTP Host) is chosen by the client, so it counts only when the destination
address is one the name resolves to (as Squid's host verification does): a client cannot
reach an arbitrary address by claiming an allowed name. Patterns may also be IP addresses or
CIDR ranges, matched against the destination address directly.
"""

from __future__ import annotations

import asyncio
import fnmatch
import ipaddress
import logging
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from mitmproxy import connection, http, tcp, tls
from mitmproxy.proxy import server_hooks

from metagate.proxy.addon import ROLE, EgressAllowList, block_response, now_iso
from metagate.reports.trail import AuditError, AuditStore

log = logging.getLogger("metagate.transparent")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str], Awaitable[set[str]]]
RESOLVE_TTL = 30.0
RESOLVE_TIMEOUT = 5.0


def parse_patterns(patterns: list[str]) -> list[Network | str]:
    """Host patterns as networks (an address or CIDR) or lower-case names ("*.suffix" allowed)."""
    parsed: list[Network | str] = []
    for pattern in patterns:
        text = pattern.strip().lower().rstrip(".")
        if not text:
            continue
        try:
            parsed.append(ipaddress.ip_network(text.strip("[]"), strict=False))
        except ValueError:
            parsed.append(text)
    return parsed


async def system_resolver(name: str) -> set[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(name, None, type=socket.SOCK_STREAM)
    return {str(ipaddress.ip_address(info[4][0])) for info in infos}


class DestinationMatcher:
    """Which role a destination address (and the name a client gave for it) has."""

    def __init__(self, zenml_hosts: list[str], allow_uninspected: list[str], resolver: Resolver = system_resolver) -> None:
        self.zenml = parse_patterns(zenml_hosts)
        self.storage = parse_patterns(allow_uninspected)
        self._resolver = resolver
        self._cache: dict[str, tuple[float, set[str]]] = {}

    async def role(self, address: str, name: str | None = None) -> str:
        try:
            ip = ipaddress.ip_address(address.strip("[]"))
        except ValueError:
            return "refused"
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        name = (name or "").lower().rstrip(".") or None
        for role, patterns in (("zenml", self.zenml), ("storage", self.storage)):
            for pattern in patterns:
                if await self._matches(pattern, ip, name):
                    return role
        return "refused"

    async def _matches(self, pattern: Network | str, ip: Address, name: str | None) -> bool:
        if not isinstance(pattern, str):
            return ip in pattern
        if "*" in pattern or "?" in pattern:
            # A wildcard names no address of its own: the client's name must fit and resolve here.
            return name is not None and fnmatch.fnmatchcase(name, pattern) and str(ip) in await self._addresses(name)
        return str(ip) in await self._addresses(pattern)

    async def _addresses(self, name: str) -> set[str]:
        cached = self._cache.get(name)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        try:
            addresses = await asyncio.wait_for(self._resolver(name), RESOLVE_TIMEOUT)
        except (OSError, asyncio.TimeoutError, ValueError):
            addresses = set()
        self._cache[name] = (time.monotonic() + RESOLVE_TTL, addresses)
        return addresses


class TransparentEgress(EgressAllowList):
    """The egress decision for redirected connections; runs before MetadataGate.

    TLS: decided at the ClientHello (address + SNI). Storage is passed through untouched,
    after its record is committed; ZenML and refused connections are intercepted, so a refused
    request gets a readable 403 (for clients that trust metagate's CA; others fail the
    handshake, which is recorded too). Plain HTTP: decided per request (address + Host).
    Raw TCP is cut unless the destination is storage, and no server connection is opened
    for a destination that was not allowed (mitmproxy connects lazily, after the decision).
    """

    def __init__(
        self, zenml_hosts: list[str], allow_uninspected: list[str], audit: AuditStore,
        resolver: Resolver = system_resolver,
    ) -> None:
        super().__init__(zenml_hosts, allow_uninspected, audit)
        self.matcher = DestinationMatcher(zenml_hosts, allow_uninspected, resolver)
        self._connection_roles: dict[str, str] = {}     # client connection id -> role (TLS)

    # --- TLS -----------------------------------------------------------------------------

    async def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        client, server = data.context.client, data.context.server
        if server.address is None:
            return
        role = await self.matcher.role(server.address[0], data.client_hello.sni)
        if role == "storage":
            try:
                await self.audit.append(self._egress_record(client, server.address, data.client_hello.sni, role))
            except AuditError as exc:
                log.error("storage connection not passed through, no record: %s", exc)
                role = "refused"                        # intercepted, then refused with a 403
            else:
                data.ignore_connection = True
        self._connection_roles[client.id] = role

    async def tls_failed_client(self, data: tls.TlsData) -> None:
        client, server = data.context.client, data.context.server
        if self._connection_roles.get(client.id) == "refused" and server.address is not None:
            # The client does not trust metagate's CA: it never saw the 403, but the refusal counts.
            await self._record_quietly(self._egress_record(client, server.address, client.sni, "refused"))

    # --- HTTP ----------------------------------------------------------------------------

    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None or ROLE in flow.metadata:
            return
        role = self._connection_roles.get(flow.client_conn.id)
        if role is None:
            role = await self.matcher.role(flow.request.host, flow.request.pretty_host)
        flow.metadata[ROLE] = role
        if role == "zenml":
            return
        address = (flow.request.host, flow.request.port)
        record = self._egress_record(flow.client_conn, address, flow.request.pretty_host, role,
                                     method=flow.request.method)
        try:
            await self.audit.append(record)
        except AuditError as exc:
            flow.response = block_response(403, f"metagate blocked {flow.request.pretty_host}: audit.unavailable ({exc})")
            return
        if role == "storage":
            # mitmproxy sends this one on itself; server_connect must know the address was proven.
            self._connection_roles[flow.client_conn.id] = role
        else:
            flow.response = block_response(
                403,
                f"metagate blocked {flow.request.method} {flow.request.pretty_host}:{flow.request.port}: "
                "egress.host_not_allowed (destination is not a ZenML upstream and not on the egress allow-list)",
            )

    async def http_connect(self, flow: http.HTTPFlow) -> None:
        # A client that speaks proxy protocol to a transparent gate: no tunnels.
        flow.metadata[ROLE] = "refused"
        flow.response = block_response(403, "metagate blocked CONNECT: this gate is transparent, not a proxy")

    # --- everything else -----------------------------------------------------------------

    async def tcp_start(self, flow: tcp.TCPFlow) -> None:
        if flow.server_conn.address is None:
            flow.kill()
            return
        role = self._connection_roles.get(flow.client_conn.id) or await self.matcher.role(flow.server_conn.address[0])
        if role != "storage":
            await self._record_quietly(self._egress_record(flow.client_conn, flow.server_conn.address, None, "refused",
                                                           method="TCP"))
            flow.kill()

    async def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        # Last line: mitmproxy itself only ever connects to storage (ZenML traffic is sent by the
        # gate's upstream client). Anything else reaching here is cut before a byte leaves.
        if data.server.address is None:
            return
        role = self._connection_roles.get(data.client.id)
        if role is None:
            role = await self.matcher.role(data.server.address[0])
        if role not in ("storage", "zenml"):
            data.server.error = "metagate: destination not allowed"

    def client_disconnected(self, client: connection.Client) -> None:
        self._connection_roles.pop(client.id, None)

    # --- records -------------------------------------------------------------------------

    def _egress_record(
        self, client: connection.Client, address: tuple[str, int], name: str | None, role: str, method: str = "TLS",
    ) -> dict[str, Any]:
        allowed = role == "storage"
        return {
            "id": str(uuid.uuid4()),
            "time": now_iso(),
            "kind": "egress",
            "mode": "transparent",
            "client": client.peername[0] if client.peername else "",
            "method": method,
            "host": name or address[0],
            "address": address[0],
            "port": address[1],
            "decision": "allow" if allowed else "block",
            "enforced": "allow" if allowed else "block",
            "rules": ["egress.uninspected_host" if allowed else "egress.host_not_allowed"],
        }

    async def _record_quietly(self, record: dict[str, Any]) -> None:
        try:
            await self.audit.append(record)
        except AuditError as exc:
            log.error("could not record an egress refusal: %s", exc)
