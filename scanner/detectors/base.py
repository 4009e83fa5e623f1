"""The detector interface: small pluggable classes, each with its own tests.

A detector sees the string leaves of one request (values, and JSON keys where asked) and
reports hits by leaf index and span. It never computes fingerprints or builds findings:
the scanner does that centrally, so no detector handles the deployment key.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Collection, Iterable, Sequence

from metagate.scanner.model import PROVEN_CLASSES, Leaf

# Field classes no detector needs to read by default: values proven by their exact shape
# (`schemas.proven`: a UUID id, a digest hash ...; a proven-class value of another shape
# reaches the detectors as a "name") and ZenML secret references (exactly `{{ name.key }}`,
# `Catalog.classify`): they name a secret and hold none.
NOT_USER_DATA: frozenset[str] = PROVEN_CLASSES | {"secret_ref"}


@dataclass(frozen=True, slots=True)
class Hit:
    leaf: int          # index into the leaves passed to scan()
    entity: str        # EMAIL_ADDRESS, AWS_ACCESS_KEY, BLOB_PICKLE ...
    start: int
    end: int
    score: float


class Detector(ABC):
    """Finds one category of sensitive content in string leaves."""

    name: ClassVar[str]
    category: ClassVar[str]            # pii | secret | blob
    # Field classes this detector never needs to look at.
    skip_classes: ClassVar[frozenset[str]] = NOT_USER_DATA
    # True when the hits for a leaf depend only on its text, field class, key flag and nearest
    # JSON key: `LeafDetection` then caches them (see detection.py). A detector that reads
    # anything else (other leaves, the request) leaves it False and runs on every leaf.
    leaf_local: ClassVar[bool] = False
    # The typed settings (a dataclass) the detector is configured with; its fields are the
    # detector's config keys (`settings_keys`). None: no settings.
    settings_type: ClassVar[type | None] = None

    def wants(self, leaf: Leaf) -> bool:
        return leaf.field_class not in self.skip_classes

    @abstractmethod
    def scan(self, leaves: Sequence[Leaf]) -> Iterable[Hit]:
        """Hits in `leaves`; only leaves for which `wants()` is true need be scanned."""


class TreeDetector(ABC):
    """Finds content that shows in the JSON structure rather than in one string
    (long numeric arrays, arrays of records)."""

    name: ClassVar[str]
    category: ClassVar[str]
    settings_type: ClassVar[type | None] = None   # as for `Detector`

    def may_find(self, body: bytes) -> bool:
        """False when the JSON text `body` cannot hold what this detector looks for (a cheap
        test on the bytes, so that small bodies skip the walk)."""
        return True

    @abstractmethod
    def scan_tree(self, root: Any, skip: Collection[int] = frozenset()) -> Iterable[tuple[str, str, float]]:
        """(JSON path, entity, score) for each structure that looks like data. Subtrees whose
        id() is in `skip` were found clean before and are not looked into (what is found
        inside a subtree must depend only on its content and path)."""


def settings_keys(detector: type[Detector] | type[TreeDetector]) -> frozenset[str]:
    """The config keys of a detector's section: `enabled` and its settings' fields."""
    settings = detector.settings_type
    fields = dataclasses.fields(settings) if settings is not None else ()
    return frozenset({"enabled", *(field.name for field in fields)})
