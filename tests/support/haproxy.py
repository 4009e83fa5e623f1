"""A real load balancer for scale-out tests: Debian's haproxy with a generated config, on
loopback, in front of several metagate replicas (round robin, every request balanced)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import Running, free_port, start, wait_for_port


def haproxy_binary() -> str | None:
    return shutil.which("haproxy") or (str(Path("/usr/sbin/haproxy")) if Path("/usr/sbin/haproxy").exists() else None)


@dataclass
class LoadBalancer:
    url: str
    port: int
    process: Running

    def stop(self) -> None:
        self.process.stop()


def haproxy_config(port: int, backend_ports: list[int]) -> str:
    servers = "\n".join(f"    server replica{i} 127.0.0.1:{p} check inter 1s"
                        for i, p in enumerate(backend_ports, start=1))
    return f"""global
    maxconn 512

defaults
    mode http
    option http-server-close
    timeout connect 5s
    timeout client 300s
    timeout server 300s

frontend zenml
    bind 127.0.0.1:{port}
    default_backend metagate

backend metagate
    balance roundrobin
{servers}
"""


def start_haproxy(workdir: Path, backend_ports: list[int]) -> LoadBalancer:
    binary = haproxy_binary()
    if binary is None:
        raise FileNotFoundError("haproxy not installed: run scripts/test-services")
    port = free_port()
    config = workdir / "haproxy.cfg"
    config.write_text(haproxy_config(port, backend_ports))
    # -db: foreground, no daemon, so stop() reaches it through its process group.
    process = start([binary, "-db", "-f", str(config)], ready=None)
    try:
        wait_for_port(port, timeout=30)
    except BaseException:
        process.stop()
        raise
    return LoadBalancer(f"http://127.0.0.1:{port}", port, process)
