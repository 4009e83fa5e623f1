"""`metagate policy check`: one request, its decision, and why.

The request goes through the Inspector the proxy's workers build, for the decision the gate
would enforce. The same policy input is then evaluated by an engine compiled with main's
intermediate documents as entrypoints (the block, redact, warn and exempt items every rules
package contributed), which says which rules fired, at which paths, on which findings, and
which items did not count (under a redacted path, or exempted). Last, the input is evaluated
once more in a stricter mode, set through data only (see STRICT_MODE), to show what a
stricter deployment would stop.

Nothing here holds a request value: items, paths, entities, scores and rule ids only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metagate.policies.files import (
    DECISION_PATH,
    config_with_overrides,
    load_policy_data,
    load_policy_files,
)

if TYPE_CHECKING:
    from metagate.proxy.inspection import InspectorSettings
    from metagate.scanner.model import InspectionRequest

ITEM_PATHS = {
    "blocks": "metagate/main/blocks_in",
    "redacts": "metagate/main/redacts",
    "warns": "metagate/main/warns_in",
    "exemptions": "metagate/main/exemptions",
}
STRICT_MODE = (
    "every finding blocks at any score (thresholds 0, no entity thresholds or ignored entities), "
    "every schema violation blocks, unknown endpoints are blocked for reads and writes, "
    "no resource may take credentials, and warnings count as blocks; exemptions written in "
    "Rego still apply"
)


def strict_data(data: dict[str, Any]) -> dict[str, Any]:
    """`data` with data.metagate.config made as strict as data can make it (STRICT_MODE).
    Team exemptions are Rego, not data: the explanation lists what they drop instead."""
    strict = json.loads(json.dumps(data))
    config = strict.setdefault("metagate", {}).setdefault("config", {})
    config["thresholds"] = {"pii": 0, "secret": 0, "blob": 0, "default": 0}
    config["entity_thresholds"] = {}
    config["ignored_entities"] = []
    config["schema"] = {"warn_kinds": [], "ignored_kinds": []}
    config["unknown_endpoint"] = {"write": "block", "read": "block"}
    config["credential_write"] = {"exempt_resources": []}
    return strict


class ItemsEngine:
    """The policy compiled with the decision and main's item lists as entrypoints."""

    def __init__(self, dirs: Sequence[Path], data_overrides: Mapping[str, Any] | None, strict: bool = False) -> None:
        from metagate.policies import regopy_backend as backend

        self._backend = backend
        self.files = load_policy_files(dirs)
        self.data = config_with_overrides(load_policy_data(dirs), data_overrides)
        if strict:
            self.data = strict_data(self.data)
        self._interpreter = backend.new_interpreter()
        backend.add_data(self._interpreter, self.data)
        for relpath, text in self.files:
            backend.add_module(self._interpreter, relpath, text)
        self._entrypoints = [DECISION_PATH, *ITEM_PATHS.values()]
        self._bundle = backend.build(self._interpreter, self._entrypoints)

    @property
    def config(self) -> dict[str, Any]:
        return self.data.get("metagate", {}).get("config", {})

    def evaluate(self, input: dict[str, Any]) -> dict[str, Any]:
        from metagate.policies.engine import normalize_decision

        backend = self._backend
        self._interpreter.set_input(backend.escape_strings(input))
        values: dict[str, Any] = {"decision": normalize_decision(
            backend.query_json(self._interpreter, self._bundle, DECISION_PATH))}
        for name, path in ITEM_PATHS.items():
            value = backend.query_json(self._interpreter, self._bundle, path)
            values[name] = value if isinstance(value, list) else []
        return values


def explain_request(settings: InspectorSettings, request: InspectionRequest) -> dict[str, Any]:
    """The explanation of one request under the policy `settings` load (see the module doc)."""
    from metagate.proxy.policy_layout import policy_dirs
    from metagate.scanner.pipeline import policy_input

    inspector = settings.build()
    result = inspector.inspect(request)
    scan = inspector.scanner.scan(request)
    document = policy_input(request, scan)
    dirs = policy_dirs(settings)
    normal_engine = ItemsEngine(dirs, settings.policy_data or None)
    normal = normal_engine.evaluate(document)
    strict = ItemsEngine(dirs, settings.policy_data or None, strict=True).evaluate(document)
    decision = result.decision
    fired, not_counted = _items(normal, document["findings"])
    return {
        "request": {"method": request.method, "path": request.path, "host": request.host},
        "endpoint": document["endpoint"],
        "schema": document["schema"],
        "policy_hash": result.policy_hash,
        "decision": decision.to_dict(),
        "fired": fired,
        "not_counted": not_counted,
        "findings": _findings(document, fired, not_counted, normal_engine.config),
        "strict": _strict(normal, strict),
        "engine_note": "" if settings.policy_engine == "regopy" else
        "explained with the embedded engine on the local policy files; the gate asks the external OPA",
    }


# --- items --------------------------------------------------------------------------------


def _paths(item: Mapping[str, Any]) -> list[str]:
    if item.get("path"):
        return [str(item["path"])]
    return [str(p) for p in item.get("paths") or ()]


def _reason(item: Mapping[str, Any], path: str) -> str:
    entity = item.get("entity") or ""
    return f"{item['rule']}: {entity} at {path}" if entity else f"{item['rule']}: {path}"


def _is_under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith((prefix + ".", prefix + "["))


def _items(values: Mapping[str, Any], findings: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    decision = values["decision"]
    reasons = set(decision.get("reasons", []))
    warnings = set(decision.get("warnings", []))
    redacted = [(p, bool(item.get("leaf"))) for item in values["redacts"] for p in _paths(item)]
    fired: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []

    def at(path: str) -> list[dict[str, Any]]:
        return [_finding(f) for f in findings if f.get("path") == path]

    for effect, key, counted in (("block", "blocks", reasons), ("warn", "warns", warnings)):
        for item in values[key]:
            for path in _paths(item):
                text = _reason(item, path) if effect == "block" else f"{item['rule']}: {path}"
                entry = {"rule": item.get("rule"), "effect": effect, "path": path, "entity": item.get("entity") or "",
                         "findings": at(path)}
                if text in counted:
                    fired.append(entry)
                else:
                    entry["why"] = _why_dropped(item, path, redacted, values["exemptions"])
                    dropped.append(entry)
    for item in values["redacts"]:
        for path in _paths(item):
            fired.append({"rule": item.get("rule"), "effect": "redact", "path": path,
                          "entity": item.get("entity") or "", "findings": at(path)})
    return fired, dropped


def _why_dropped(item: Mapping[str, Any], path: str, redacted: list[tuple[str, bool]], exemptions: Sequence[Any]) -> str:
    for prefix, leaf in redacted:
        if path == prefix or (not leaf and _is_under(path, prefix)):
            return f"the value is redacted ({prefix}): it never leaves"
    for exemption in exemptions:
        if isinstance(exemption, Mapping) and exemption.get("rule") == item.get("rule"):
            scope = str(exemption.get("path") or "$")
            if _is_under(path, scope):
                return f"exempted for {scope}"
    return "not counted by the policy"


def _finding(finding: Mapping[str, Any]) -> dict[str, Any]:
    return {k: finding.get(k) for k in ("entity", "category", "score", "detector", "field_class")}


def _findings(
    document: Mapping[str, Any], fired: Sequence[Mapping[str, Any]], not_counted: Sequence[Mapping[str, Any]],
    config: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """Every finding, with the rules it made fire, or a likely reason why it did not block."""
    out = []
    thresholds = config.get("thresholds") or {}
    redacted = [str(f["path"]) for f in fired if f["effect"] == "redact"]
    for finding in document.get("findings", []):
        path = finding.get("path")
        rules = sorted({str(f["rule"]) for f in fired if f["path"] == path and f["effect"] == "block"})
        entry = {"path": path, **_finding(finding), "rules": rules}
        if not rules:
            entity, category = finding.get("entity"), finding.get("category")
            threshold = (config.get("entity_thresholds") or {}).get(entity, thresholds.get(category, thresholds.get("default", 0)))
            dropped = [d for d in not_counted if d["path"] == path and d["effect"] == "block"]
            if dropped:
                entry["why_not"] = f"{dropped[0]['rule']} did not count: {dropped[0]['why']}"
            elif any(_is_under(str(path), prefix) for prefix in redacted):
                entry["why_not"] = "the field is redacted: the value never leaves"
            elif entity in (config.get("ignored_entities") or []):
                entry["why_not"] = "the entity is ignored (ignored_entities)"
            elif isinstance(finding.get("score"), (int, float)) and finding["score"] < threshold:
                entry["why_not"] = f"score {finding['score']:.2f} below the threshold {threshold}"
            else:
                entry["why_not"] = "exempt: a redacted field, the SDK's own auth field, or a team exemption"
        out.append(entry)
    return out


def _strict(normal: Mapping[str, Any], strict: Mapping[str, Any]) -> dict[str, Any]:
    decision = strict["decision"]
    action = decision.get("action", "block")
    if action in ("allow", "warn", "redact") and decision.get("warnings"):
        action = "block"           # strict: warnings count as blocks
    normal_reasons = set(normal["decision"].get("reasons", []))
    extra = [r for r in decision.get("reasons", []) if r not in normal_reasons]
    extra += [f"{w} (a warning, counted as a block)" for w in decision.get("warnings", [])]
    return {"mode": STRICT_MODE, "decision": action, "would_fire": sorted(set(extra))}


# --- rendering ----------------------------------------------------------------------------


def render_explanation(explanation: Mapping[str, Any]) -> str:
    request = explanation["request"]
    endpoint = explanation["endpoint"]
    decision = explanation["decision"]
    lines = [f"{request['method']} {request['path']}: {decision['action'].upper()}"]
    if endpoint.get("known"):
        lines.append(f"  endpoint {endpoint['template']} ({endpoint['resource']}, {endpoint['action']}"
                     f"{', SDK auth' if endpoint.get('sdk_auth') else ''})")
    else:
        lines.append("  endpoint not in the catalog")
    schema = explanation["schema"]
    if schema.get("parse_error"):
        lines.append(f"  body: {schema['parse_error']}")
    revision = explanation.get("policy_revision")
    lines.append(f"  policy {explanation['policy_hash'][:16]}" + (f" (bundle revision {revision})" if revision else ""))
    if explanation.get("engine_note"):
        lines.append(f"  note: {explanation['engine_note']}")
    lines.append("rules fired:" if explanation["fired"] else "rules fired: none")
    for item in explanation["fired"]:
        entity = f"{item['entity']} at " if item["entity"] else ""
        lines.append(f"  {item['effect']:<6} {item['rule']}: {entity}{item['path']}")
        for finding in item["findings"]:
            lines.append(f"         finding {_finding_text(finding)}")
    for rule in decision.get("rules", []):
        if rule not in {str(i["rule"]) for i in explanation["fired"]}:
            lines.append(f"  block  {rule}: {'; '.join(r for r in decision.get('reasons', []) if r.startswith(rule)) or rule}")
    if explanation["not_counted"]:
        lines.append("did not count:")
        for item in explanation["not_counted"]:
            entity = f"{item['entity']} at " if item["entity"] else ""
            lines.append(f"  {item['effect']:<6} {item['rule']}: {entity}{item['path']}: {item['why']}")
    quiet = [f for f in explanation["findings"] if not f["rules"]]
    if quiet:
        lines.append("findings that did not block:")
        for finding in quiet:
            lines.append(f"  {finding['path']}: {_finding_text(finding)}: {finding['why_not']}")
    strict = explanation["strict"]
    lines.append(f"stricter mode: {strict['decision'].upper()}")
    lines.append(f"  ({strict['mode']})")
    for reason in strict["would_fire"]:
        lines.append(f"  would fire: {reason}")
    if not strict["would_fire"]:
        lines.append("  nothing more would fire")
    return "\n".join(lines) + "\n"


def _finding_text(finding: Mapping[str, Any]) -> str:
    score = finding.get("score")
    shown = f"{score:.2f}" if isinstance(score, (int, float)) else "?"
    return f"{finding['entity']} ({finding['category']}, {finding['detector']}, score {shown}, field class {finding['field_class']})"
