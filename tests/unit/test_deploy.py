"""deploy/: the Dockerfile and Kubernetes manifests cannot run here (no container engine), so
they are rendered, schema-checked against Kubernetes' own JSON schemas (kubernetes-validate),
checked for the security and network properties they promise, and kept in step with the CLI:
every `metagate` command line they hold parses, and every METAGATE_* variable is a setting."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from metagate.proxy.cli import build_parser
from metagate.proxy.config import NOT_CONFIG_ENV, _annotation_at, load_config

from tests.support.kustomize_lite import render

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBE = DEPLOY / "kubernetes"
KUSTOMIZATIONS = ["base", "overlays/scale-out", "pipelines", "sidecar"]
K8S_VERSION = "1.30.0"     # native sidecars (initContainers with restartPolicy: Always) need 1.29+
GATE_LABELS = {"app.kubernetes.io/name": "metagate", "app.kubernetes.io/component": "egress-gateway"}
SECRET_PLACEHOLDER = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {name: render(KUBE / name) for name in KUSTOMIZATIONS}


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"]["template"]["spec"]


def metagate_containers(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Containers that run metagate (image metagate, no shell command of their own)."""
    found = []
    for doc in docs:
        if doc["kind"] not in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
            continue
        spec = pod_spec(doc)
        for container in spec.get("containers", []) + spec.get("initContainers", []):
            if container["image"].split("/")[-1].startswith("metagate") and "command" not in container:
                found.append(container)
    return found


# --- rendering and schemas ----------------------------------------------------------------

def test_every_kustomization_renders_and_every_yaml_file_is_used(rendered):
    listed: set[Path] = set()
    for name in KUSTOMIZATIONS:
        spec = yaml.safe_load((KUBE / name / "kustomization.yaml").read_text())
        listed |= {(KUBE / name / entry).resolve() for entry in spec.get("resources", [])}
        listed |= {(KUBE / name / patch["path"]).resolve() for patch in spec.get("patches", [])}
    on_disk = {p.resolve() for p in KUBE.rglob("*.yaml") if p.name != "kustomization.yaml"}
    assert on_disk - listed == set(), "manifests no kustomization uses"
    assert {d["kind"] for d in rendered["base"]} >= {"Deployment", "Service", "NetworkPolicy", "ConfigMap"}
    assert by_kind(rendered["overlays/scale-out"], "PersistentVolumeClaim") == []   # deleted by the overlay


def test_manifests_validate_against_the_kubernetes_schemas(rendered):
    import kubernetes_validate

    count = 0
    for name, docs in rendered.items():
        for doc in docs:
            try:
                kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{name}: {doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")
            count += 1
    assert count >= 12


def test_the_schema_check_is_not_vacuous():
    import kubernetes_validate

    broken = render(KUBE / "base")
    deployment = by_kind(broken, "Deployment")[0]
    pod_spec(deployment)["containers"][0]["securityContext"]["readOnlyRootFilesystm"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def test_the_overlay_patch_merges_containers_and_volumes_by_name(rendered):
    deployment = by_kind(rendered["overlays/scale-out"], "Deployment")[0]
    spec = pod_spec(deployment)
    assert deployment["spec"]["replicas"] > 1 and deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    (container,) = spec["containers"]
    env = {e["name"] for e in container["env"]}
    assert {"METAGATE_ADMIN_TOKEN", "METAGATE_AUDIT__STORE", "METAGATE_AUDIT__REPLICA_ID"} <= env
    assert container["args"] == pod_spec(by_kind(rendered["base"], "Deployment")[0])["containers"][0]["args"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert "emptyDir" in volumes["data"] and "persistentVolumeClaim" not in volumes["data"]
    assert all(c["image"] == "metagate:0.1.0" for c in spec["containers"] + spec["initContainers"])


# --- security -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["base", "overlays/scale-out", "sidecar"])
def test_metagate_runs_as_non_root_on_a_read_only_root_filesystem(rendered, name):
    for doc in rendered[name]:
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        spec = pod_spec(doc)
        assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] != 0
        assert spec["automountServiceAccountToken"] is False
        for container in metagate_containers([doc]):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            # Everything metagate writes: the data dir, HOME and /tmp are volumes.
            assert {"/var/lib/metagate", "/home/metagate", "/tmp"} <= set(mounts)
            assert container["args"][container["args"].index("--data-dir") + 1] == "/var/lib/metagate"
            volumes = {v["name"] for v in spec["volumes"]}
            assert set(mounts.values()) <= volumes


def test_probes_use_the_admin_port_and_public_probe_paths(rendered):
    for name in ("base", "sidecar"):
        for container in metagate_containers(rendered[name]):
            admin = container["args"][container["args"].index("--admin") + 1]
            port = int(admin.rpartition(":")[2])
            assert {"name": "admin", "containerPort": port, "protocol": "TCP"} in container["ports"]
            probes = [container[k] for k in ("startupProbe", "livenessProbe", "readinessProbe") if k in container]
            assert probes and all(p["httpGet"]["port"] == "admin" for p in probes)
            assert {p["httpGet"]["path"] for p in probes} <= {"/healthz", "/readyz"}
            # Kubelet probes reach the pod IP, so the admin listener is not on loopback, and
            # a non-loopback admin listener needs its token.
            assert not admin.startswith("127.")
            assert any(e["name"] == "METAGATE_ADMIN_TOKEN" and "secretKeyRef" in e["valueFrom"] for e in container["env"])


# --- network policy -----------------------------------------------------------------------

def test_pipeline_pods_may_egress_only_to_the_gate_dns_and_storage(rendered):
    (policy,) = by_kind(rendered["pipelines"], "NetworkPolicy")
    spec = policy["spec"]
    assert spec["podSelector"] == {} and spec["policyTypes"] == ["Egress"]
    gate_rules = [r for r in spec["egress"] if any("podSelector" in t and t["podSelector"]["matchLabels"] == GATE_LABELS for t in r["to"])]
    assert len(gate_rules) == 1 and gate_rules[0]["ports"] == [{"port": 8080, "protocol": "TCP"}]
    assert gate_rules[0]["to"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "metagate"}
    others = [r for r in spec["egress"] if r not in gate_rules]
    dns = [r for r in others if r["to"][0].get("podSelector", {}).get("matchLabels") == {"k8s-app": "kube-dns"}]
    assert len(dns) == 1 and {p["port"] for p in dns[0]["ports"]} == {53}
    storage = [r for r in others if r not in dns]
    assert len(storage) == 1 and all("ipBlock" in t for t in storage[0]["to"])
    assert all("0.0.0.0/0" != t["ipBlock"]["cidr"] for t in storage[0]["to"])
    # The gate admits this namespace by its label.
    (namespace,) = by_kind(rendered["pipelines"], "Namespace")
    gate_policy = next(p for p in by_kind(rendered["base"], "NetworkPolicy") if p["metadata"]["name"] == "metagate-gateway")
    proxy_ingress = [r for r in gate_policy["spec"]["ingress"] if {"port": 8080, "protocol": "TCP"} in r["ports"]]
    assert proxy_ingress[0]["from"][0]["namespaceSelector"]["matchLabels"].items() <= namespace["metadata"]["labels"].items()


def test_the_gate_may_egress_only_to_the_upstream_and_dns(rendered):
    policies = [p for p in by_kind(rendered["base"], "NetworkPolicy") if p["spec"]["podSelector"].get("matchLabels") == GATE_LABELS]
    assert len(policies) == 1
    spec = policies[0]["spec"]
    assert "Egress" in spec["policyTypes"] and len(spec["egress"]) == 2
    upstream, dns = spec["egress"]
    assert [t["ipBlock"]["cidr"] for t in upstream["to"]] != ["0.0.0.0/0"] and upstream["ports"] == [{"port": 443, "protocol": "TCP"}]
    assert {p["port"] for p in dns["ports"]} == {53}
    # Its namespace is the one the pipeline policy names.
    assert policies[0]["metadata"]["namespace"] == "metagate"


# --- in step with the CLI and the configuration ---------------------------------------------

def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in dockerfile_instructions():
        if keyword == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def command_lines() -> list[tuple[str, list[str], dict[str, str]]]:
    """(where, metagate argv, METAGATE_* env) from the Dockerfile and every rendered manifest."""
    found = []
    instructions = dict(dockerfile_instructions())
    entrypoint, cmd = json.loads(instructions["ENTRYPOINT"]), json.loads(instructions["CMD"])
    assert entrypoint == ["metagate"]
    found.append(("Dockerfile", cmd, {k: v for k, v in dockerfile_env().items() if k.startswith("METAGATE_")}))
    for name in KUSTOMIZATIONS:
        for container in metagate_containers(render(KUBE / name)):
            env = {}
            for entry in container.get("env", []):
                env[entry["name"]] = entry.get("value", SECRET_PLACEHOLDER)
            found.append((f"{name}/{container['name']}", container["args"], env))
    return found


def configmap_files(tmp_path: Path) -> dict[str, Path]:
    files = {}
    for name in KUSTOMIZATIONS:
        for doc in by_kind(render(KUBE / name), "ConfigMap"):
            for key, text in doc["data"].items():
                if key.endswith(".yaml"):
                    path = tmp_path / f"{doc['metadata']['name']}-{key}"
                    path.write_text(text)
                    files[doc["metadata"]["name"]] = path
    return files


def test_every_command_line_parses_and_every_metagate_variable_is_a_setting(tmp_path):
    lines = command_lines()
    assert len(lines) >= 4
    configs = configmap_files(tmp_path)
    assert set(configs) == {"metagate-config", "metagate-sidecar-config"}
    parser = build_parser()
    for where, argv, env in lines:
        for name in env:
            if name not in NOT_CONFIG_ENV:
                keys = name[len("METAGATE_"):].lower().split("__")
                assert _annotation_at(keys) is not None, f"{where}: {name} is not a metagate setting"
        try:
            args = parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"{where}: metagate rejects {argv}")
        assert args.command == "run"
        config_file = None
        if args.config is not None:
            # The file path inside the container; its content is the ConfigMap mounted there.
            config_file = configs["metagate-sidecar-config" if where.startswith("sidecar") else "metagate-config"]
            assert str(args.config) == "/etc/metagate/metagate.yaml"
        overrides = {"listen": args.listen, "data_dir": args.data_dir, "mode": args.mode,
                     "admin": {"listen": args.admin} if args.admin else None}
        environ = {k: v for k, v in env.items() if k.startswith("METAGATE_")}
        if where == "Dockerfile":
            environ["METAGATE_UPSTREAM"] = "https://ws.example.com"    # docker run -e, as documented
        config = load_config(config_file, overrides, environ=environ)
        assert config.embedded_upstream is False and config.upstream is not None, where
        assert config.log.format == "json"


def test_the_cli_check_is_not_vacuous():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--admn", "0.0.0.0:9090"])


# --- Dockerfile -----------------------------------------------------------------------------

def test_dockerfile_runs_as_non_root_and_fetches_nothing_by_url():
    instructions = dockerfile_instructions()
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert not any(keyword == "ADD" for keyword, _ in instructions), "COPY, not ADD"
    assert not any(re.search(r"\b(curl|wget)\b|https?://", rest) for keyword, rest in instructions if keyword == "RUN")
    assert any(keyword == "HEALTHCHECK" and "/healthz" in rest for keyword, rest in instructions)
    env = dockerfile_env()
    assert env["METAGATE_EMBEDDED_UPSTREAM"] == "false"
    assert env["HOME"] == "/home/metagate" and env["METAGATE_DATA_DIR"] == "/var/lib/metagate"


def test_dockerfile_pins_its_base_image_by_digest_and_copies_every_package():
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11", text, re.MULTILINE)
    assert "@sha256:" in text, "say how the base image is pinned by digest"
    copied = {rest.split()[0].rstrip("/") for keyword, rest in dockerfile_instructions()
              if keyword == "COPY" and not rest.startswith("--from")}
    pyproject = (ROOT / "pyproject.toml").read_text()
    package_roots = {d.split("/")[0] for d in re.findall(r'^"metagate\.[\w.]+" = "([\w/]+)"', pyproject, re.MULTILINE)}
    assert package_roots and package_roots <= copied
    for source in copied:
        if source not in ("pyproject.toml",):
            assert (ROOT / source).exists(), source
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert {f"!{root}/" for root in package_roots} <= set(ignore)
    # The build files too, and a compiler in the build stage: the scanner's Cython modules.
    build_copy = next(rest.split() for keyword, rest in dockerfile_instructions() if keyword == "COPY")
    assert {"pyproject.toml", "setup.py"} <= set(build_copy[:-1])
    assert {"!pyproject.toml", "!setup.py"} <= set(ignore)
    build_stage = text.split("\nFROM ")[1]
    assert re.search(r"apt-get install [^\n]*\bgcc\b", build_stage)
