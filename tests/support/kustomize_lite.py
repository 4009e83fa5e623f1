"""The few Kustomize features deploy/kubernetes uses, to render it where `kustomize` is absent.

Supported: `resources` (files and directories), `namespace`, `images` (newName/newTag),
`patches` with `path:` holding strategic-merge patches (maps merge, `null` deletes a key,
lists of named items merge by `name`, other lists are replaced, `$patch: delete` removes the
resource). Anything else in a kustomization.yaml is an error, so the deploy files cannot use
a feature this renderer would silently ignore.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = {"apiVersion", "kind", "namespace", "resources", "images", "patches"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass"}


class KustomizeError(ValueError):
    pass


def load_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _key(doc: dict[str, Any]) -> tuple[str, str]:
    return doc.get("kind", ""), doc.get("metadata", {}).get("name", "")


def _named_list(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(item, dict) and "name" in item for item in items)


def strategic_merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = strategic_merge(merged[key], value)
            else:
                merged[key] = copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(patch, list) and _named_list(base) and _named_list(patch):
        merged_list = [copy.deepcopy(item) for item in base]
        index = {item["name"]: i for i, item in enumerate(merged_list)}
        for item in patch:
            if item["name"] in index:
                merged_list[index[item["name"]]] = strategic_merge(merged_list[index[item["name"]]], item)
            else:
                merged_list.append(copy.deepcopy(item))
        return merged_list
    return copy.deepcopy(patch)


def _set_images(node: Any, images: dict[str, dict[str, str]]) -> None:
    if isinstance(node, dict):
        for key in ("containers", "initContainers"):
            for container in node.get(key) or []:
                name, _, tag = container.get("image", "").partition(":")
                if name in images:
                    rule = images[name]
                    new_tag = rule.get("newTag", tag)
                    container["image"] = rule.get("newName", name) + (f":{new_tag}" if new_tag else "")
        for value in node.values():
            _set_images(value, images)
    elif isinstance(node, list):
        for value in node:
            _set_images(value, images)


def render(directory: Path) -> list[dict[str, Any]]:
    """The resources `kustomize build directory` would print (for the features above)."""
    directory = Path(directory)
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(spec) - SUPPORTED
    if unknown:
        raise KustomizeError(f"{directory}/kustomization.yaml uses unsupported fields: {sorted(unknown)}")
    docs: list[dict[str, Any]] = []
    for entry in spec.get("resources", []):
        target = directory / entry
        if target.is_dir():
            docs += render(target)
        elif target.is_file():
            docs += load_documents(target)
        else:
            raise KustomizeError(f"{directory}/kustomization.yaml lists {entry}, which does not exist")
    for patch_entry in spec.get("patches", []):
        if set(patch_entry) != {"path"}:
            raise KustomizeError(f"only `path:` patches are supported, not {sorted(patch_entry)}")
        for patch in load_documents(directory / patch_entry["path"]):
            matches = [i for i, doc in enumerate(docs) if _key(doc) == _key(patch)]
            if len(matches) != 1:
                raise KustomizeError(f"patch {patch_entry['path']} matches {len(matches)} resources")
            if patch.get("$patch") == "delete":
                del docs[matches[0]]
            else:
                docs[matches[0]] = strategic_merge(docs[matches[0]], patch)
    if "namespace" in spec:
        for doc in docs:
            if doc.get("kind") not in CLUSTER_SCOPED:
                doc.setdefault("metadata", {})["namespace"] = spec["namespace"]
    images = {rule["name"]: rule for rule in spec.get("images", [])}
    if images:
        _set_images(docs, images)
    return docs
