"""Postal addresses by their parts (scanner/detectors/addresses.py), alone and in the PII detector."""

from __future__ import annotations

import pytest
from metagate.scanner.detectors.addresses import FULL_SCORE, STREET_SCORE, AddressScanner
from metagate.scanner.detectors.pii import PresidioPiiDetector
from metagate.scanner.model import VIEW_SEPARATOR, Leaf

BLOCKING = 0.5


@pytest.fixture(scope="module")
def scanner() -> AddressScanner:
    return AddressScanner()


def best(scanner: AddressScanner, text: str) -> tuple[str, float] | None:
    spans = scanner.spans(text)
    if not spans:
        return None
    start, end, score = max(spans, key=lambda s: s[2])
    return text[start:end], score


ADDRESSES = [
    # (text, the whole address is one span)
    "1234 Maple Street, Springfield, IL 62704",
    "88 Harbour Ave, Dayton, OH 45402-1234",
    "Flat 3, 27 Acacia Road, Leeds LS1 4AB",
    "Lindenstraße 12, 10115 Berlin",
    "Hauptstr. 5, D-80331 München",
    "12 rue des Lilas, 75011 Paris",
    "Calle Mayor 7, 28013 Madrid",
    "Via Roma 5, 00184 Roma",
    "Kerkstraat 4a, 1012 AB Amsterdam",
    "9 Cedar Hollow Ln, Apt 4B",
    "12 Kingsmere Way, Leeds LS6 2AB",
    "PO Box 1234, Dayton, OH 45402",
    "684 Glenmoor Drive, Toronto, ON M5V 2T6",
]


@pytest.mark.parametrize("text", ADDRESSES)
def test_an_address_of_several_countries_is_one_span_that_blocks(scanner, text):
    assert best(scanner, text) == (text, pytest.approx(best(scanner, text)[1]))
    assert best(scanner, text)[1] >= BLOCKING


@pytest.mark.parametrize("text", ["27 Acacia Road", "Lindenstraße 12", "5 Via Roma", "Avenida de la Paz 14"])
def test_a_street_line_alone_is_an_address(scanner, text):
    assert best(scanner, text) == (text, STREET_SCORE)


def test_a_postcode_alone_needs_an_address_word(scanner):
    assert best(scanner, "10115 Berlin")[1] < BLOCKING
    assert best(scanner, "ship to: 10115 Berlin")[1] >= BLOCKING
    assert best(scanner, "Springfield, IL 62704")[1] >= BLOCKING   # city, state and ZIP


@pytest.mark.parametrize("text", [
    "Load Data 2", "3 layers", "v1.2.3 Road map", "Spring 2024", "Scoring 5", "T4 8GB", "1000 Epochs, 2048 Tokens",
    "/srv/mlops/Way 2", "step_2 Main Drive", "Top 5 Best Place", "epoch 12 of 40", "resnet-50 on 8 A100 GPUs",
    "s3://bucket/2024/Road/12/model.pkl", "zenml==0.98.0", "2024-01-26T10:00:00Z", "Batch Size 32, Learning Rate 3",
])
def test_metadata_does_not_block_as_an_address(scanner, text):
    assert all(score < BLOCKING for _, _, score in scanner.spans(text))


def test_each_view_is_read_on_its_own(scanner):
    leaf = Leaf("$.values.note", "MTIgcnVlIGRlcyBMaWxhcw==" + VIEW_SEPARATOR + "12 rue des Lilas, 75011 Paris", "user_dict")
    hits = list(scanner.scan([leaf], [0]))
    assert [(leaf.text[h.start:h.end], h.score) for h in hits] == [("12 rue des Lilas, 75011 Paris", FULL_SCORE)]


def test_the_pii_detector_reports_an_address_as_location_and_not_metadata():
    detector = PresidioPiiDetector()
    leaves = [Leaf("$.values.note", "ship to 1234 Maple Street, Springfield, IL 62704", "user_dict"),
              Leaf("$.values.step", "Load Data 2", "user_dict"),
              Leaf("$.values.weak", "2048 Tokens", "user_dict")]
    hits = [(h.leaf, h.entity) for h in detector.scan(leaves)]
    assert hits == [(0, "LOCATION")]
