"""Private network namespaces for transparent-mode tests: client → gateway → upstream.

    client ns            gateway ns                          upstream ns
    10.231.1.1/30 ─veth─ 10.231.1.2/30 | 10.231.2.1/30 ─veth─ 10.231.2.2/30
                                                              10.231.3.3, 10.231.3.4 (lo)

The gateway forwards nothing on its own (FORWARD policy DROP): the client's TCP connections
to the redirected port are REDIRECTed (iptables, or nftables when iptables is missing) to a
local port where metagate listens in transparent mode. The addresses exist only inside these
namespaces; nothing is routed to or from the host's own network.

Names carry the creating process's pid, so a later run can remove what a killed run left
behind without touching namespaces of a run that is still going.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

CLIENT_ADDRESS, GATEWAY_CLIENT_SIDE = "10.231.1.1", "10.231.1.2"
GATEWAY_UPSTREAM_SIDE, UPSTREAM_ADDRESS = "10.231.2.1", "10.231.2.2"
# Two more hosts in the upstream namespace: one no rule allows, one on the storage allow-list.
OTHER_ADDRESS, STORAGE_ADDRESS = "10.231.3.3", "10.231.3.4"
_NAME = re.compile(r"^mg(?:cli|gw|up)(\d+)$")


def unavailable_reason() -> str | None:
    """Why these tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "transparent-mode tests need root (network namespaces, iptables); CI runs them as root"
    if shutil.which("ip") is None:
        return "transparent-mode tests need iproute2 (`ip netns`)"
    if shutil.which("iptables") is None and shutil.which("nft") is None:
        return "transparent-mode tests need iptables or nftables (scripts/test-services installs iptables)"
    probe = f"mgprobe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot create a network namespace here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def run(*command: str) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


def remove_stale_namespaces() -> None:
    """Namespaces of test runs whose process is gone (killed before its clean-up ran)."""
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for line in listing.splitlines():
        name = line.split()[0] if line.split() else ""
        match = _NAME.match(name)
        # Ours too (pid reuse): this process has not made any yet when it calls this.
        if match and (int(match.group(1)) == os.getpid() or not os.path.exists(f"/proc/{match.group(1)}")):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


@dataclass
class Topology:
    client: str
    gateway: str
    upstream: str
    created: list[str] = field(default_factory=list)

    @classmethod
    def names(cls) -> Topology:
        pid = os.getpid()
        return cls(f"mgcli{pid}", f"mggw{pid}", f"mgup{pid}")

    def exec_prefix(self, namespace: str) -> list[str]:
        return ["ip", "netns", "exec", namespace]

    def in_ns(self, namespace: str, *command: str) -> str:
        return run(*self.exec_prefix(namespace), *command)

    def create(self, redirect_port: int, gate_port: int) -> None:
        """Namespaces, links, routes, and the gateway's redirect of `redirect_port` to `gate_port`."""
        for namespace in (self.client, self.gateway, self.upstream):
            run("ip", "netns", "add", namespace)
            self.created.append(namespace)
            self.in_ns(namespace, "ip", "link", "set", "lo", "up")
        run("ip", "link", "add", "cl0", "netns", self.client, "type", "veth", "peer", "name", "gwc0", "netns", self.gateway)
        run("ip", "link", "add", "gwu0", "netns", self.gateway, "type", "veth", "peer", "name", "up0", "netns", self.upstream)
        for namespace, device, address in (
            (self.client, "cl0", CLIENT_ADDRESS), (self.gateway, "gwc0", GATEWAY_CLIENT_SIDE),
            (self.gateway, "gwu0", GATEWAY_UPSTREAM_SIDE), (self.upstream, "up0", UPSTREAM_ADDRESS),
        ):
            self.in_ns(namespace, "ip", "addr", "add", f"{address}/30", "dev", device)
            self.in_ns(namespace, "ip", "link", "set", device, "up")
        self.in_ns(self.client, "ip", "route", "add", "default", "via", GATEWAY_CLIENT_SIDE)
        self.in_ns(self.upstream, "ip", "route", "add", "default", "via", GATEWAY_UPSTREAM_SIDE)
        for address in (OTHER_ADDRESS, STORAGE_ADDRESS):
            self.in_ns(self.upstream, "ip", "addr", "add", f"{address}/32", "dev", "lo")
        self.in_ns(self.gateway, "ip", "route", "add", "10.231.3.0/24", "via", UPSTREAM_ADDRESS)
        self.in_ns(self.gateway, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        self._redirect(redirect_port, gate_port)

    def _redirect(self, redirect_port: int, gate_port: int) -> None:
        if shutil.which("iptables"):
            self.in_ns(self.gateway, "iptables", "-P", "FORWARD", "DROP")
            self.in_ns(self.gateway, "iptables", "-t", "nat", "-A", "PREROUTING", "-i", "gwc0", "-p", "tcp",
                       "--dport", str(redirect_port), "-j", "REDIRECT", "--to-ports", str(gate_port))
            return
        ruleset = (
            "table inet metagate {\n"
            "  chain forward { type filter hook forward priority 0; policy drop; }\n"
            "  chain prerouting { type nat hook prerouting priority dstnat;\n"
            f"    iifname \"gwc0\" tcp dport {redirect_port} counter redirect to :{gate_port}\n"
            "  }\n"
            "}\n"
        )
        subprocess.run([*self.exec_prefix(self.gateway), "nft", "-f", "-"], input=ruleset, text=True,
                       check=True, capture_output=True, timeout=60)

    def redirected_connections(self) -> int:
        """Connections the gateway's NAT redirected so far (a NAT rule sees only the first packet of each)."""
        if shutil.which("iptables"):
            listing = self.in_ns(self.gateway, "iptables", "-t", "nat", "-L", "PREROUTING", "-v", "-n", "-x")
            for line in listing.splitlines():
                if "REDIRECT" in line:
                    return int(line.split()[0])
            return 0
        listing = self.in_ns(self.gateway, "nft", "list", "table", "inet", "metagate")
        found = re.search(r"counter packets (\d+)", listing)
        return int(found.group(1)) if found else 0

    def destroy(self) -> None:
        """Delete the namespaces (their veth pairs go with them). Stop processes inside first."""
        for namespace in reversed(self.created):
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
        self.created.clear()
