"""Decoders on short values and where values sit (round 2 of issue 12): base85/ascii85 of an SSN
or a card (one base85 punctuation mark, 10+ characters, between quotes), escapes written into
source code, base64 wrapped in two lines, values read backwards or under ROT13 that only the
turned text shows (IBANs by mod-97, Amex and ungrouped cards by Luhn and network prefix, phone
numbers with the country code last), and values cut into equal or tiny pieces over a list or
an object. Each with clean look-alikes that must give no view."""

from __future__ import annotations

import base64
import codecs
import json

import pytest
from metagate.scanner import decoders, evasion
from metagate.scanner.evasion import decoded_views, expand_leaves
from metagate.scanner.model import Leaf

SSN = "866-50-6891"
CARD = "4660487647593823"
IBAN = "BE48660487647593"
IBAN_SPACED = "GB78 HLAR 7676 6595 1517 44"
AMEX = "3721-646314-32352"


def _views(text: str) -> list[str]:
    evasion.forget_clean_texts()
    return decoded_views(text)


@pytest.mark.parametrize("value", [SSN, CARD, "+442079466604", "AKIAY2CQ7ZT6WNISIGQJ"])
@pytest.mark.parametrize("encode", [base64.b85encode, base64.a85encode])
@pytest.mark.parametrize("placed", ["{}", 'REVIEWER = "{}"', "{{'note': '{}'}}"])
def test_base85_of_a_short_value_is_decoded_wherever_it_is_written(value, encode, placed):
    encoded = encode(value.encode()).decode()
    if "\\" in encoded and placed != "{}":
        pytest.skip("a backslash in a quoted literal is escaped once more")
    assert value in _views(placed.format(encoded))


def test_adobe_ascii85_inside_quotes_is_decoded():
    encoded = base64.a85encode(b"mateo64@acme.jp", adobe=True).decode()
    assert "mateo64@acme.jp" in _views(f"REVIEWER = {json.dumps(encoded)}")


@pytest.mark.parametrize(
    "clean",
    ["jane.doe@example.com", "a=1&b=2&c=hello", "https://x.example/run?id=12&page=3", "torch==2.1.0+cu118",
     "{{ secrets.db_password }}", "C:\\Users\\runner\\work"],
)
def test_tokens_with_base85_punctuation_that_are_not_base85_give_no_view(clean):
    assert [v for v in _views(clean) if v != clean] == [] or all(clean not in v for v in _views(clean))
    assert decoders.base85_views(clean, decoders.Tries()) == []


def test_escapes_written_with_a_doubled_backslash_are_decoded():
    escaped = "".join(f"\\u{ord(c):04x}" for c in SSN)
    source = f"def f():\n    pass\nREVIEWER = {json.dumps(escaped)}\n"
    assert any(SSN in view for view in _views(source))


def test_base64_wrapped_in_two_lines_is_decoded():
    encoded = base64.b64encode(b"AKIAY2CQ7ZT6WNISIGQJ").decode()
    assert "AKIAY2CQ7ZT6WNISIGQJ" in _views(encoded[:16] + "\n" + encoded[16:])


@pytest.mark.parametrize(
    ("turned", "plain"),
    [
        (IBAN[::-1], IBAN),
        (IBAN_SPACED[::-1], IBAN_SPACED),
        (CARD[::-1], CARD),
        (AMEX[::-1], AMEX),
        ("1212 51 307", "703 15 2121"),
        ("8495-65899 11 55+", "+55 11 99856-5948"),
        (codecs.encode(IBAN, "rot13"), IBAN),
        (codecs.encode(IBAN_SPACED, "rot13"), IBAN_SPACED),
    ],
)
def test_values_only_the_turned_text_shows_are_turned(turned, plain):
    assert plain in _views(turned)
    assert evasion.expand_leaves([Leaf("$.values.note", turned, "user_dict")]).leaves[0].text.endswith(plain) or any(
        plain in text for text in evasion.expand_leaves([Leaf("$.values.note", turned, "user_dict")]).leaves[0].text.split("\n;\n")
    )


@pytest.mark.parametrize(
    "clean",
    [
        IBAN,                        # an IBAN as sent is read as sent
        "BE48660487647594",          # wrong check digits, either way
        "AB12CDEFGHIJKLMNOP",        # no country of that length
        "4539004010602815",          # a card valid as sent
        "1733280000000000",          # a timestamp (reversed, it starts with 0)
        "run 2026_11_26-05_22_05",
        "v2.1.0+",
    ],
)
def test_codes_and_ids_are_not_turned(clean):
    assert decoders.reversed_view(clean) is None
    assert decoders.rot13_view(clean) is None


def test_at_and_spelled_dot_together_are_an_address():
    assert "soo-ah.chaudhry@initech.de" in _views("soo-ah.chaudhry (AT) initech dot de")
    assert "ishikawaa@umbrella-health.org" in _views("ishikawaa(at)umbrella-health DOT org")


def _list_leaves(parent: str, items: list[str]) -> list[Leaf]:
    return [Leaf(parent, parent.rsplit(".", 1)[-1], "user_dict", True)] + [
        Leaf(f"{parent}[{i}]", item, "user_dict") for i, item in enumerate(items)
    ]


@pytest.mark.parametrize(
    "value",
    ["(617) 555-0342", IBAN_SPACED, "-----BEGIN RSA PRIVATE KEY-----\nMIIEow", "github_pat_" + "Ab1" * 30],
)
@pytest.mark.parametrize("width", [1, 2, 4, 7])
def test_a_value_cut_into_pieces_is_joined_whatever_the_join_shows(value, width):
    evasion.forget_clean_texts()
    pieces = [value[i : i + width] for i in range(0, len(value), width)]
    if len(pieces) < 3:
        pytest.skip("two pieces are siblings, not a value cut into pieces")
    leaves = _list_leaves("$.values.note", pieces)
    expanded = expand_leaves(leaves).leaves
    assert value in expanded[1].text  # on the first piece only: n pieces must not cost n * n
    assert all(value not in leaf.text for leaf in expanded[2:]) or width > 4


@pytest.mark.parametrize(
    "items",
    [
        ["age", "income", "zip", "tenure", "plan", "churn"],   # feature names
        ["0.12", "0.53", "0.99", "0.01"],                      # numbers as text
        ["1", "2", "3", "4"],
        ["prod", "nightly", "sklearn"],
    ],
)
def test_lists_of_words_or_numbers_are_not_joined_whole(items):
    evasion.forget_clean_texts()
    leaves = _list_leaves("$.values.tags", items)
    assert expand_leaves(leaves).leaves is leaves


def test_a_huge_character_list_is_joined_within_its_bounds():
    evasion.forget_clean_texts()
    pieces = list("x" * 200_000)
    expansion = expand_leaves(_list_leaves("$.values.note", pieces))
    appended = sum(len(leaf.text) for leaf in expansion.leaves) - 200_000 - len("note")
    assert appended <= evasion.MAX_JOIN_CHARS_PER_REQUEST + 16 * len(expansion.leaves)


@pytest.mark.parametrize("value", [SSN, "AKIAY2CQ7ZT6WNISIGQJ", IBAN_SPACED, "jane.doe@example.com"])
@pytest.mark.parametrize("written", [",".join, ", ".join, "|".join, lambda cs: ", ".join(repr(c) for c in cs)])
def test_characters_written_one_by_one_in_a_string_are_joined(value, written):
    assert value in _views(f"note: {written(list(value))}")


@pytest.mark.parametrize("clean", ["a, b, c", "x=1,y=2,z=3,w=4,v=5", "eu-west-1, us-east-1", "1,2,3", "cpu,gpu"])
def test_short_comma_lists_of_words_give_no_character_view(clean):
    assert decoders.char_list_views(clean, decoders.Tries()) == []


@pytest.mark.parametrize("name", ["Jane Doe", "Laura Martinez", "Kenji Watanabe"])
def test_a_name_pair_read_backwards_or_under_rot13_is_turned(name):
    assert name in _views(name[::-1])
    assert name in _views(codecs.encode(name, "rot13"))


@pytest.mark.parametrize("clean", ["Hello World", "Pipeline Run", "Training Pipeline", "Random Forest", "camelCase x"])
def test_capitalised_metadata_words_are_not_turned(clean):
    assert decoders.reversed_view(clean) is None
    assert decoders.rot13_view(clean) is None


def test_percent_encoded_file_bytes_keep_their_signature():
    from urllib.parse import quote_from_bytes

    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 2
    views = _views(quote_from_bytes(png))
    assert any(base64.b64decode(v).startswith(b"\x89PNG") for v in views if not v.startswith("\ufffd") and "\ufffd" not in v)
    assert [v for v in _views(quote_from_bytes(bytes(range(128, 256)) * 2)) if "\ufffd" not in v] == []


@pytest.mark.parametrize(
    "text",
    [",".join("ab" * 75_000), "12ab " * 60_000, "eoD enaJ " * 33_000, "Wnar Qbr " * 33_000, ", ".join(["'a'"] * 60_000)],
    ids=["character list", "IBAN-like tokens", "reversed names", "ROT13 names", "quoted characters"],
)
def test_pathological_texts_for_the_new_decoders_are_decided_in_bounded_time(text):
    import time

    evasion.forget_clean_texts()
    started = time.perf_counter()
    expand_leaves([Leaf("$.values.note", text, "user_dict")])
    assert time.perf_counter() - started < 3.0


@pytest.mark.parametrize("text", [
    "Dr. Mei Haddad", "Kenji U. Delacroix", "Haddad, Mei", "1 Willowbrook Ave, Dayton, OH 45402",
    "Harbourstraße 1407, LS6 2AB Leeds", "362 rue des Fenwick, 45402 Dayton", "lookup failed for Noa Mbatha",
])
def test_names_and_addresses_under_rot13_read_as_words_turned(text):
    # Letter-pair statistics, not a list: none of these surnames or streets is listed anywhere.
    assert text in _views(codecs.encode(text, "rot13"))


@pytest.mark.parametrize("text", [
    "Random Forest Classifier", "Gradient Boosting", "Central Chebyshev Cholesky", "Nightly Training Pipeline",
    "Der Kunde hat heute wieder angerufen", "Predicts customer churn from usage counts. Owner: ML Platform",
    "Traceback (most recent call last): KeyError", "zenml==0.98.0 Jinja2==3.1.4 SQLAlchemy==2.0.36",
])
def test_capitalised_text_as_written_is_not_turned(text):
    assert decoders.turned_word_runs(text) == []
    assert decoders.rot13_view(text) is None


@pytest.mark.parametrize("name", ["Kenji U. Delacroix", "Dr. Mei O. Kaur"])
def test_a_reversed_name_with_an_initial_is_turned(name):
    assert name in _views(name[::-1])


@pytest.mark.parametrize("separator", [" ", "-", ":", "/", ";", "|", ", "])
def test_a_key_written_one_character_at_a_time_with_its_line_breaks_is_joined(separator):
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK\n-----END RSA PRIVATE KEY-----"
    assert pem in _views(separator.join(pem))
