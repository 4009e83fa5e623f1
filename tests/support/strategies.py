"""Hypothesis strategies over (entity x encoding x placement) for the generalisation tests.

Everything here is written from the classes of data issue 12 names, independently of the
scanner: no detector, decoder or catalog code is imported, so the strategies describe what
must be caught, not what the detectors happen to look for.

- ENTITIES: sensitive values by class (PII, secrets, binary blobs, data-shaped content), each
  drawn with its details at random (any TLD, national and international phone layouts, valid
  Luhn and IBAN checksums, names of several cultures, ...).
- ENCODINGS: small test-side encoders (text transforms, binary-to-text codecs, numbers as
  numbers, splitting over list items and sibling keys, human obfuscations).
- PLACEMENTS: each builds a real request record (method, path, query, headers, body_text) from
  a request the real SDK sent (tests/corpus/captured/*.jsonl) with the encoded value written
  at one place users fill, and returns the JSON path the finding must sit at or under.
- fresh_clean_record: a captured clean request with its ids, timestamps, digests and
  artifact-store roots regenerated, for the false-positive property.

Every value is made up: names and streets are combinations nobody was asked about, phone
numbers sit in ranges reserved for drama or are random, card numbers are random with a valid
Luhn digit, keys are random characters in the providers' formats.
"""

from __future__ import annotations

import base64
import codecs
import copy
import dataclasses
import gzip
import json
import pickle
import random
import re
import string
import struct
import uuid
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

import phonenumbers
from hypothesis import reject
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
CAPTURED = ROOT / "tests" / "corpus" / "captured"
LABELLED_CLEAN = ROOT / "tests" / "corpus" / "labelled" / "clean.jsonl"

Draw = Callable[[st.SearchStrategy[Any]], Any]

# Categories a finding may carry (scanner/detectors/base.py: pii | secret | blob). Data-shaped
# content (prose, tables, embeddings) is "blob", as the table and numeric-array findings are.
PII = frozenset({"pii"})
SECRET = frozenset({"secret"})
BLOB = frozenset({"blob"})
DATA_SHAPED = BLOB


# --- entities ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entity:
    """One sensitive value. `value` is text, bytes (binary blobs) or a JSON value (tables,
    embeddings); `digits` is the bare digit string of number-like PII (cards, SSNs, phones)."""

    cls: str
    categories: frozenset[str]
    shape: str                       # "text" | "digits" | "bytes" | "json"
    value: Any
    context_keys: tuple[str, ...]    # keys a user would file it under
    digits: str | None = None

    @property
    def text(self) -> str:
        """The value as a string: bytes as base64 (how blobs travel in JSON), JSON as JSON."""
        if self.shape == "bytes":
            return base64.b64encode(self.value).decode()
        if self.shape == "json":
            return json.dumps(self.value)
        return self.value

    @property
    def raw(self) -> bytes:
        """The value as bytes, for binary-to-text encodings."""
        if self.shape == "bytes":
            return self.value
        return self.text.encode("utf-8")


FIRST_NAMES = ("Aiko", "Kwame", "Ingrid", "Mateo", "Priya", "Olusegun", "Siobhan", "Yusuf", "Mei", "Dmitri",
               "Amara", "Henrik", "Lucía", "Tariq", "Noa", "Chidi", "Astrid", "Rahul", "Fatima", "Kenji",
               "Zofia", "Thandiwe", "Joaquín", "Leilani", "Björn", "Anaïs", "Hamid", "Ngozi", "Soo-ah", "Emeka")
LAST_NAMES = ("Okonkwo-Reyes", "Lindqvist", "Tanabe", "Adeyemi", "Kowalczyk", "Haddad", "Sørensen", "Ferreira",
              "Mbatha", "Castellano", "Nakashima", "Brennan", "Oyelaran", "Varga", "Chaudhry", "Petrović",
              "Halvorsen", "Quispe", "Achterberg", "Delacroix", "Ishikawa", "Mwangi", "Santorelli", "Weißmann",
              "Rautio", "Abernathy", "Kaur", "Dimitriou", "Bergqvist", "Oduya")
STREET_NAMES = ("Willowbrook", "Kingsmere", "Harbour", "Linden", "Marigold", "Ashcombe", "Cedar Hollow",
                "Fenwick", "Bramblewood", "Larkspur", "Rosenhain", "Calder", "Juniper", "Glenmoor")
CITIES = (("Dayton", "OH", "45402"), ("Springfield", "IL", "62704"), ("Leeds", "", "LS6 2AB"),
          ("Bristol", "", "BS8 1TH"), ("Berlin", "", "10115"), ("Lyon", "", "69003"), ("Toronto", "ON", "M5V 2T6"),
          ("Melbourne", "VIC", "3000"), ("Portland", "OR", "97205"), ("Utrecht", "", "3511 LX"))

names_of_people = st.builds(lambda first, last: f"{first} {last}", st.sampled_from(FIRST_NAMES),
                            st.sampled_from(LAST_NAMES))


def _rng(draw: Draw) -> random.Random:
    """A seeded generator for the characters of keys, digits and pixels. Hypothesis would
    shrink characters drawn one by one to "AAAA..." or "0000...", which no detector should
    have to call a key or a card (real ones have entropy); a seed shrinks to another seed,
    so even the minimal example looks like a real value."""
    return random.Random(draw(st.integers(0, 2**32 - 1)))


def _luhn_digit(digits: str) -> str:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:  # doubled: the check digit will sit to the right of these
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return str((10 - total % 10) % 10)


@st.composite
def emails(draw: Draw) -> Entity:
    first = draw(st.sampled_from(FIRST_NAMES)).lower()
    last = draw(st.sampled_from(LAST_NAMES)).lower()
    local = draw(st.sampled_from((f"{first}.{last}", f"{first[0]}{last}", f"{first}_{last}", f"{last}{first[0]}",
                                  f"{first}.{last}+ml", f"{first}{draw(st.integers(1, 99))}")))
    local = local.encode("ascii", "ignore").decode().replace("ø", "o").replace("'", "")
    local = re.sub(r"[^a-z0-9._+-]", "", local) or "user"
    domain = draw(st.sampled_from(("acme", "contoso", "globex-labs", "initech", "hooli", "umbrella-health",
                                   "mail.northwind", "corp.vandelay", "stark-ind")))
    tld = draw(st.sampled_from(("com", "io", "de", "org", "net", "co.uk", "fr", "ai", "dev", "internal", "corp",
                                "example", "local", "lan", "xyz", "com.br", "jp")))
    address = f"{local}@{domain}.{tld}"
    return Entity("email", PII, "text", address, ("email", "contact", "owner_email", "reviewer", "userEmail"))


_PHONE_PLANS = (
    # (region, national significant number templates: X = any digit) in ranges that are valid
    ("GB", ("207946####", "1134960###", "7700900###")),       # Ofcom drama ranges
    ("US", ("20155501##", "31255501##", "41555501##", "6175550###")),
    ("DE", ("30########", "89########", "1512#######")),
    ("FR", ("1########", "6########")),
    ("IN", ("98#######", "98########")),
    ("AU", ("4########", "2########")),
    ("BR", ("119########",)),
    ("JP", ("3########", "90########")),
)


@st.composite
def phones(draw: Draw) -> Entity:
    region, templates = draw(st.sampled_from(_PHONE_PLANS))
    template = draw(st.sampled_from(templates))
    rng = _rng(draw)
    national = "".join(rng.choice(string.digits) if c == "#" else c for c in template)
    number = phonenumbers.parse(national, region)
    if not phonenumbers.is_valid_number(number):  # keep to valid numbers: anyone can tell those are phones
        number = phonenumbers.parse("2079460958", "GB")
        region = "GB"
    layouts = [phonenumbers.PhoneNumberFormat.E164, phonenumbers.PhoneNumberFormat.INTERNATIONAL]
    if region in ("US", "GB"):  # national layouts are phones only where the region is implied
        layouts.append(phonenumbers.PhoneNumberFormat.NATIONAL)
    text = phonenumbers.format_number(number, draw(st.sampled_from(layouts)))
    if draw(st.booleans()) and text.startswith("+"):
        text = text.replace(" ", draw(st.sampled_from((" ", "-", ".", ""))))
    digits = f"{number.country_code}{number.national_number}"
    return Entity("phone", PII, "digits", text, ("phone", "msisdn", "mobile", "contact_number", "phoneNumber"), digits)


@st.composite
def card_numbers(draw: Draw) -> Entity:
    prefix, length = draw(st.sampled_from((("4", 16), ("51", 16), ("53", 16), ("55", 16), ("2221", 16),
                                           ("34", 15), ("37", 15), ("6011", 16))))
    rng = _rng(draw)
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    digits = body + _luhn_digit(body)
    separator = draw(st.sampled_from(("", " ", "-")))
    if separator and length == 16:
        text = separator.join(digits[i:i + 4] for i in range(0, 16, 4))
    elif separator:
        text = separator.join((digits[:4], digits[4:10], digits[10:]))
    else:
        text = digits
    return Entity("card", PII, "digits", text, ("card_number", "pan", "cc", "creditCard", "payment_card"), digits)


@st.composite
def ssns(draw: Draw) -> Entity:
    rng = _rng(draw)
    area = rng.choice([a for a in range(1, 900) if a != 666])
    group, serial = rng.randint(1, 99), rng.randint(1, 9999)
    digits = f"{area:03d}{group:02d}{serial:04d}"
    separator = draw(st.sampled_from(("-", " ")))
    text = separator.join((digits[:3], digits[3:5], digits[5:]))
    return Entity("ssn", PII, "digits", text, ("ssn", "tax_id", "social_security_number", "ssnLast", "tin"), digits)


_IBAN_LAYOUTS = {"DE": "8n10n", "GB": "4a6n8n", "FR": "5n5n11n2n", "NL": "4a10n", "ES": "4n4n2n10n", "IT": "1a5n5n12n",
                 "BE": "3n7n2n", "CH": "5n12n"}


def _iban_check(country: str, bban: str) -> str:
    rearranged = bban + country + "00"
    number = int("".join(str(int(c, 36)) for c in rearranged))
    return f"{98 - number % 97:02d}"


@st.composite
def ibans(draw: Draw) -> Entity:
    country = draw(st.sampled_from(sorted(_IBAN_LAYOUTS)))
    rng, bban = _rng(draw), ""
    for count, kind in re.findall(r"(\d+)([an])", _IBAN_LAYOUTS[country]):
        alphabet = string.ascii_uppercase if kind == "a" else string.digits
        bban += "".join(rng.choice(alphabet) for _ in range(int(count)))
    compact = country + _iban_check(country, bban) + bban
    text = draw(st.sampled_from((compact, " ".join(compact[i:i + 4] for i in range(0, len(compact), 4)),
                                 compact.lower())))
    return Entity("iban", PII, "text", text, ("iban", "bank_account", "payout_account", "ibanCode"))


@st.composite
def person_names(draw: Draw) -> Entity:
    first, last = draw(st.sampled_from(FIRST_NAMES)), draw(st.sampled_from(LAST_NAMES))
    text = draw(st.sampled_from((f"{first} {last}", f"{last}, {first}", f"Dr. {first} {last}",
                                 f"{first} {draw(st.sampled_from(string.ascii_uppercase))}. {last}")))
    return Entity("person_name", PII, "text", text,
                  ("patient_name", "account_holder", "labeler", "customerName", "reviewed_by", "full_name"))


@st.composite
def postal_addresses(draw: Draw) -> Entity:
    number = draw(st.integers(1, 2999))
    street = draw(st.sampled_from(STREET_NAMES))
    city, region, postcode = draw(st.sampled_from(CITIES))
    style = draw(st.sampled_from(("us", "uk", "de", "fr")))
    if style == "de":
        text = f"{street}straße {number}, {postcode} {city}"
    elif style == "fr":
        text = f"{number} rue des {street}, {postcode} {city}"
    elif style == "uk":
        text = f"Flat {draw(st.integers(1, 40))}, {number} {street} Road, {city} {postcode}"
    else:
        kind = draw(st.sampled_from(("Ave", "Street", "Lane", "Blvd", "Drive")))
        text = f"{number} {street} {kind}, {city}, {region} {postcode}".replace(",  ", ", ")
    return Entity("postal_address", PII, "text", text,
                  ("home_address", "shipping_address", "billingAddress", "address", "street"))


_AWS_ALPHABET = string.ascii_uppercase + "234567"
_ALNUM = string.ascii_letters + string.digits


def _chars(rng: random.Random, alphabet: str, count: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(count))


@st.composite
def aws_access_keys(draw: Draw) -> Entity:
    key = draw(st.sampled_from(("AKIA", "ASIA"))) + _chars(_rng(draw), _AWS_ALPHABET, 16)
    return Entity("aws_access_key", SECRET, "text", key, ("aws_access_key_id", "access_key", "awsKey"))


@st.composite
def github_tokens(draw: Draw) -> Entity:
    rng = _rng(draw)
    if draw(st.booleans()):
        token = draw(st.sampled_from(("ghp_", "gho_", "ghs_", "ghu_"))) + _chars(rng, _ALNUM, 36)
    else:
        token = "github_pat_" + _chars(rng, _ALNUM, 22) + "_" + _chars(rng, _ALNUM, 59)
    return Entity("github_token", SECRET, "text", token, ("github_token", "gh_token", "GITHUB_PAT"))


@st.composite
def pem_private_keys(draw: Draw) -> Entity:
    label = draw(st.sampled_from(("RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY")))
    body = base64.b64encode(_rng(draw).randbytes(draw(st.integers(120, 600)))).decode()
    lines = "\n".join(body[i:i + 64] for i in range(0, len(body), 64))
    return Entity("pem_private_key", SECRET, "text", f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----",
                  ("private_key", "ssh_key", "signing_key"))


# --- secrets of many formats -----------------------------------------------------------------
# Each is a vendor's or a tool's public format, written from its documentation, with random
# characters where the secret is: cloud and forge tokens, a JWT carrying a secret claim, a DSN
# or URL with a password, the credential files users paste (.netrc, .pgpass, docker config,
# kubeconfig) and a password under a key that names it (in every naming style). Not part of
# ENTITIES (test_generalisation's matrix); tests/unit/test_secret_rules.py crosses them with
# the encodings and the kinds of place.

_URLSAFE = _ALNUM + "-_"
_PASSWORD_ALPHABET = _ALNUM + "!#%^*()-_+=~.,"
_HOSTS = ("db.prod.internal", "pg-01.acme.example", "10.20.0.15", "mongo.acme.example", "registry.acme.example",
          "api.acme.example", "nexus.corp.example")


def _password(rng: random.Random) -> str:
    """A generated password: 12 to 24 characters with letters, digits and symbols."""
    core = _chars(rng, _PASSWORD_ALPHABET, rng.randint(9, 21))
    return core + rng.choice(string.digits) + rng.choice(string.ascii_uppercase) + rng.choice("!#%^*")


def _jwt_segment(claims: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).decode().rstrip("=")


def _secret(cls: str, value: str, *keys: str) -> Entity:
    return Entity(cls, SECRET, "text", value, keys or ("credentials", "token", "secret"))


@st.composite
def gitlab_tokens(draw: Draw) -> Entity:
    return _secret("gitlab_token", "glpat-" + _chars(_rng(draw), _URLSAFE, 20), "gitlab_token", "ci_token")


@st.composite
def slack_tokens(draw: Draw) -> Entity:
    rng = _rng(draw)
    kind = draw(st.sampled_from(("bot", "user", "webhook")))
    if kind == "webhook":
        value = (f"https://hooks.slack.com/services/T{_chars(rng, string.ascii_uppercase + string.digits, 10)}"
                 f"/B{_chars(rng, string.ascii_uppercase + string.digits, 10)}/{_chars(rng, _ALNUM, 24)}")
    elif kind == "bot":      # xoxb-<team>-<bot>-<24>
        value = ("xoxb-" + "".join(rng.choice(string.digits) for _ in range(12)) + "-"
                 + "".join(rng.choice(string.digits) for _ in range(13)) + "-" + _chars(rng, _ALNUM, 24))
    else:                    # xoxp-<team>-<user>-<app>-<32 hex>
        numbers = "-".join("".join(rng.choice(string.digits) for _ in range(rng.randint(10, 13))) for _ in range(3))
        value = f"xoxp-{numbers}-{rng.randbytes(16).hex()}"
    return _secret("slack_token", value, "slack_webhook", "slack_token")


@st.composite
def stripe_keys(draw: Draw) -> Entity:
    rng = _rng(draw)
    value = draw(st.sampled_from(("sk_live_", "rk_live_", "sk_test_"))) + _chars(rng, _ALNUM, rng.randint(24, 99))
    return _secret("stripe_key", value, "stripe_key", "payments_key")


@st.composite
def google_api_keys(draw: Draw) -> Entity:
    return _secret("google_api_key", "AIza" + _chars(_rng(draw), _URLSAFE, 35), "google_api_key", "maps_key")


@st.composite
def azure_client_secrets(draw: Draw) -> Entity:
    rng = _rng(draw)
    value = (_chars(rng, _ALNUM, 3) + rng.choice(string.digits) + "Q~"
             + _chars(rng, _ALNUM + "_~.-", rng.randint(31, 34)))
    return _secret("azure_client_secret", value, "azure_client_secret", "aad_secret")


@st.composite
def jwts_with_secret(draw: Draw) -> Entity:
    """A JWT a user pasted into a body: its payload carries a secret claim (an API secret, a
    refresh token), and it is signed."""
    rng = _rng(draw)
    header = _jwt_segment({"alg": draw(st.sampled_from(("HS256", "RS256"))), "typ": "JWT"})
    payload = _jwt_segment({"sub": _chars(rng, string.ascii_lowercase, 8), "iat": rng.randint(1.6e9, 1.9e9),
                            draw(st.sampled_from(("api_secret", "client_secret", "refresh"))): _chars(rng, _ALNUM, 32)})
    signature = _chars(rng, _URLSAFE, 43)
    return _secret("jwt_with_secret", f"{header}.{payload}.{signature}", "id_token", "session_jwt")


_DSN_SCHEMES = ("postgresql", "postgresql+psycopg2", "mysql", "mysql+pymysql", "mongodb+srv", "redis", "amqps")


@st.composite
def dsns_with_password(draw: Draw) -> Entity:
    rng = _rng(draw)
    scheme = draw(st.sampled_from(_DSN_SCHEMES))
    user = draw(st.sampled_from(("zenml", "admin", "etl_svc", "mlflow")))
    password = quote(_password(rng), safe="!*()-_~.")
    port = {"redis": ":6379", "amqps": ":5671", "mongodb+srv": ""}.get(scheme, f":{rng.choice((5432, 3306))}")
    value = f"{scheme}://{user}:{password}@{draw(st.sampled_from(_HOSTS))}{port}/{draw(st.sampled_from(('zenml', 'prod', '0')))}"
    return _secret("dsn_with_password", value, "database_url", "dsn", "sqlalchemy_url")


@st.composite
def basic_auth_urls(draw: Draw) -> Entity:
    rng = _rng(draw)
    user = draw(st.sampled_from(("bob", "ci-bot", "svc_etl")))
    value = (f"{draw(st.sampled_from(('https', 'http', 'ftp')))}://{user}:{quote(_password(rng), safe='')}@"
             f"{draw(st.sampled_from(_HOSTS))}/{draw(st.sampled_from(('simple/', 'repo/models', 'v2/')))}")
    return _secret("basic_auth_url", value, "index_url", "mirror", "upstream")


@st.composite
def netrc_lines(draw: Draw) -> Entity:
    rng = _rng(draw)
    separator = draw(st.sampled_from((" ", "\n  ")))
    value = (f"machine {draw(st.sampled_from(_HOSTS))}{separator}login {draw(st.sampled_from(('bob', 'ci')))}"
             f"{separator}password {_password(rng)}")
    return _secret("netrc_line", value, "netrc", "credentials_file")


@st.composite
def pgpass_lines(draw: Draw) -> Entity:
    rng = _rng(draw)
    value = (f"{draw(st.sampled_from(_HOSTS))}:{draw(st.sampled_from(('5432', '*')))}:"
             f"{draw(st.sampled_from(('zenml', '*')))}:{draw(st.sampled_from(('zenml', 'etl')))}:{_password(rng)}")
    return _secret("pgpass_line", value, "pgpass", "credentials_file")


@st.composite
def docker_configs(draw: Draw) -> Entity:
    rng = _rng(draw)
    auth = base64.b64encode(f"{draw(st.sampled_from(('ci', 'robot$acme')))}:{_password(rng)}".encode()).decode()
    value = json.dumps({"auths": {draw(st.sampled_from(_HOSTS)): {"auth": auth}}},
                       indent=draw(st.sampled_from((None, 2))))
    return _secret("docker_config", value, "docker_config", "dockerconfigjson")


@st.composite
def kube_configs(draw: Draw) -> Entity:
    rng = _rng(draw)
    if draw(st.booleans()):
        header = _jwt_segment({"alg": "RS256", "kid": _chars(rng, _URLSAFE, 12)})
        claims = _jwt_segment({"iss": "kubernetes/serviceaccount", "sub": "system:serviceaccount:ml:runner"})
        credential = f"    token: {header}.{claims}.{_chars(rng, _URLSAFE, 86)}"
    else:
        pem = draw(pem_private_keys()).value
        credential = f"    client-key-data: {base64.b64encode(pem.encode()).decode()}"
    value = ("apiVersion: v1\nkind: Config\nclusters:\n- name: prod\n  cluster:\n    server: https://k8s.acme.example\n"
             f"users:\n- name: runner\n  user:\n{credential}\n")
    return _secret("kube_config", value, "kubeconfig", "kube_config")


# Keys that name a secret, in every naming style a user writes them (a password under one is a
# secret however it looks; the same value under a neutral key is judged by the rules only).
SECRET_KEY_NAMES = ("password", "passwd", "pwd", "passphrase", "secret", "client_secret", "api_key", "apiKey",
                    "x-api-key", "access_token", "authToken", "DB_PASSWORD", "db.password", "private_key",
                    "ClientSecret", "API-KEY", "smtp_password", "redisPassword", "MLFLOW_TRACKING_PASSWORD")


@st.composite
def keyed_passwords(draw: Draw) -> Entity:
    return _secret("keyed_password", _password(_rng(draw)), *SECRET_KEY_NAMES)


SECRET_FORMATS: dict[str, st.SearchStrategy[Entity]] = {
    "aws_access_key": aws_access_keys(), "github_token": github_tokens(), "gitlab_token": gitlab_tokens(),
    "slack_token": slack_tokens(), "stripe_key": stripe_keys(), "google_api_key": google_api_keys(),
    "azure_client_secret": azure_client_secrets(), "jwt_with_secret": jwts_with_secret(),
    "pem_private_key": pem_private_keys(), "dsn_with_password": dsns_with_password(),
    "basic_auth_url": basic_auth_urls(), "netrc_line": netrc_lines(), "pgpass_line": pgpass_lines(),
    "docker_config": docker_configs(), "kube_config": kube_configs(), "keyed_password": keyed_passwords(),
}
# Formats only a key identifies: placed under one of their keys, in user data.
KEY_ONLY_FORMATS = frozenset({"keyed_password"})


_BLOB_KEYS = ("payload", "weights", "image", "array", "state", "blob")


@st.composite
def pickles(draw: Draw) -> Entity:
    rng = _rng(draw)
    keys = draw(st.lists(st.sampled_from(("weights", "bias", "coef", "classes", "scaler", "vocab")),
                         min_size=1, max_size=4, unique=True))
    content = {key: [round(rng.gauss(0, 1), 6) for _ in range(draw(st.integers(8, 64)))] for key in keys}
    blob = pickle.dumps(content, protocol=draw(st.integers(2, 5)))
    return Entity("pickle", BLOB, "bytes", blob, _BLOB_KEYS)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


@st.composite
def pngs(draw: Draw) -> Entity:
    width, height = draw(st.integers(2, 16)), draw(st.integers(2, 16))
    pixels = _rng(draw).randbytes(width * height * 3)
    rows = b"".join(b"\x00" + pixels[y * width * 3:(y + 1) * width * 3] for y in range(height))
    blob = (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + _png_chunk(b"IDAT", zlib.compress(rows)) + _png_chunk(b"IEND", b""))
    return Entity("png", BLOB, "bytes", blob, _BLOB_KEYS)


@st.composite
def npy_arrays(draw: Draw) -> Entity:
    count = draw(st.integers(4, 64))
    dtype, size = draw(st.sampled_from((("<f4", 4), ("<f8", 8), ("<i8", 8))))
    header = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': ({count},), }}"
    header += " " * (-(len(header) + 11) % 64) + "\n"  # the format pads the header to 64 bytes
    data = _rng(draw).randbytes(count * size)
    blob = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin-1") + data
    return Entity("npy", BLOB, "bytes", blob, _BLOB_KEYS)


_TICKET_OPENINGS = ("The customer called again about", "Caller reported", "Agent notes: the client complained about",
                    "Transcript summary: she explained", "Ticket escalated because of", "He wrote in to say",
                    "During the call the member described")
_TICKET_SUBJECTS = ("the delayed refund", "a double charge on last month's invoice", "the app logging her out",
                    "missing loyalty points", "a parcel left at the wrong door", "the broken password reset link",
                    "an unexpected cancellation fee", "the mobile data plan", "a damaged replacement unit")
_TICKET_DETAILS = ("and said it had happened three times this week", "and asked for a supervisor to call back",
                   "and was upset that nobody had replied to the previous emails",
                   "because the confirmation never arrived", "although the order history shows it as delivered",
                   "and mentioned her son had tried to fix it first", "and threatened to close the account",
                   "after waiting forty minutes on hold", "and wants the whole amount back before Friday")
_TICKET_CLOSINGS = ("I promised a follow-up by tomorrow.", "We agreed to waive the fee as a goodwill gesture.",
                    "The case stays open until the courier confirms.", "She seemed calmer at the end of the call.",
                    "Next step is a callback from billing.", "He will send photos of the damage tonight.")


@st.composite
def prose_paragraphs(draw: Draw) -> Entity:
    sentences = [f"{draw(st.sampled_from(_TICKET_OPENINGS))} {draw(st.sampled_from(_TICKET_SUBJECTS))} "
                 f"{draw(st.sampled_from(_TICKET_DETAILS))}."
                 for _ in range(draw(st.integers(3, 7)))]
    sentences.append(draw(st.sampled_from(_TICKET_CLOSINGS)))
    return Entity("prose", DATA_SHAPED, "text", " ".join(sentences), ("transcript", "ticket", "notes", "comment"))


# Prose in the other registers real traffic carries (issue 12: tickets, transcripts, clinical
# notes, e-mails, chat logs; several languages): each built from generated parts, so every
# draw is a new text of its register.
_AGENT_LINES = ("Thank you for calling, how can I help you today?", "I am sorry to hear that.",
                "Can you confirm the last four digits of the card?", "I have booked a technician for Thursday.",
                "Let me check your account, one moment please.", "I will escalate this to my supervisor.")
_CALLER_LINES = ("Hi, my internet keeps dropping every evening.", "Yes, it started right after the update.",
                 "My husband already tried restarting the router twice.", "I was charged twice for the same order.",
                 "No, nobody called me back last week.", "Thanks, I appreciate your help.")
_CHAT_LINES = ("did you see the refund request from her yesterday", "yes I replied to him this morning",
               "she says the parcel never arrived", "can you check my notes before the call",
               "he wants it fixed before friday", "ok I will call her after lunch")
_CLINICAL_FINDINGS = ("chest pain radiating to the left arm", "shortness of breath on exertion",
                      "intermittent headaches for two weeks", "a persistent dry cough", "swelling of the right ankle")
_CLINICAL_HISTORY = ("He has a history of hypertension and type 2 diabetes.", "She denies fever or weight loss.",
                     "His wife states he stopped taking his medication last month.",
                     "She reports the pain is worse at night.", "He was seen in the emergency department in March.")
_EMAIL_BODIES = ("Thanks for getting back to me so quickly.", "I checked with our accounts team this morning.",
                 "They confirmed the refund was issued on Tuesday.", "Please let me know if it has not arrived by Friday.",
                 "I have attached the signed form you asked for.", "My new address is on the second page.")
_OTHER_LANGUAGE_TICKETS = (
    ("Der Kunde hat heute wieder angerufen.", "Er sagte, dass seine Frau die Rechnung schon bezahlt hat.",
     "Ich habe ihm einen Rückruf für morgen versprochen.", "Sie war sehr verärgert über die Wartezeit."),
    ("La cliente a appelé ce matin au sujet du remboursement.", "Elle a dit que son colis était arrivé endommagé.",
     "Je lui ai promis un rappel demain.", "Son mari avait déjà envoyé les photos."),
    ("El cliente llamó otra vez por el cargo doble.", "Dijo que su esposa ya había pagado la factura.",
     "Le prometí una llamada mañana.", "Ella quiere el dinero antes del viernes."),
    ("Klient zadzwonił ponownie w sprawie zwrotu pieniędzy.", "Powiedział, że jego żona zapłaciła już dwa razy.",
     "Obiecałem mu oddzwonić jutro.", "Ona chce zwrotu przed piątkiem."),
)
PROSE_REGISTERS = ("transcript", "chat", "clinical", "email", "other_language")


@st.composite
def prose_in_registers(draw: Draw, register: str | None = None) -> Entity:
    """A text of one register (drawn when not given): a call transcript, a chat log, a
    clinical note, an e-mail or a ticket in another language."""
    register = register or draw(st.sampled_from(PROSE_REGISTERS))
    first, other = draw(st.sampled_from(FIRST_NAMES)), draw(st.sampled_from(FIRST_NAMES))
    if register == "transcript":
        agent, caller = draw(st.sampled_from((("Agent", "Caller"), ("Agent", "Customer"), ("A", "B"),
                                              (first, other), ("Rep", "Client"))))
        turns = [f"{(agent, caller)[i % 2]}: {draw(st.sampled_from((_AGENT_LINES, _CALLER_LINES)[i % 2]))}"
                 for i in range(draw(st.integers(4, 8)))]
        text = draw(st.sampled_from(("\n", " "))).join(turns)
    elif register == "chat":
        names = (first.lower(), other.lower())
        lines = [f"[{9 + i // 6:02d}:{i * 7 % 60:02d}] {names[i % 2]}: {draw(st.sampled_from(_CHAT_LINES))}"
                 for i in range(draw(st.integers(4, 8)))]
        text = "\n".join(lines)
    elif register == "clinical":
        age = draw(st.integers(19, 94))
        sex = draw(st.sampled_from(("male", "female")))
        text = (f"Patient is a {age} year old {sex} presenting with {draw(st.sampled_from(_CLINICAL_FINDINGS))}. "
                + " ".join(draw(st.lists(st.sampled_from(_CLINICAL_HISTORY), min_size=2, max_size=4, unique=True)))
                + " Plan: ECG, bloods and follow up in two weeks.")
    elif register == "email":
        body = " ".join(draw(st.lists(st.sampled_from(_EMAIL_BODIES), min_size=3, max_size=5, unique=True)))
        text = f"Hi {first},\n\n{body}\n\nBest regards,\n{other}"
    else:
        sentences = draw(st.sampled_from(_OTHER_LANGUAGE_TICKETS))
        text = " ".join(draw(st.permutations(sentences)))
    return Entity("prose", DATA_SHAPED, "text", text, ("transcript", "ticket", "notes", "comment"))


# Prose ZenML's own fields carry on clean runs (a model description, a pipeline docstring, an
# exception message): it describes a system, in the register of documentation ("it", "we",
# "you"). Clean look-alikes for the places that hold prose by nature.
_SYSTEM_SUBJECTS = ("This model", "The pipeline", "This step", "The ranking model", "The baseline", "The classifier")
_SYSTEM_CLAIMS = ("predicts customer churn from monthly usage counts", "was trained on the March snapshot",
                  "uses gradient boosting with early stopping", "is retrained every night on the latest features",
                  "reaches a macro F1 of 0.91 on the held-out week", "scores customers for the retention campaign")
_SYSTEM_ADVICE = ("You can reshape your data with array.reshape(-1, 1) if it contains a single feature.",
                  "We retrain it when the population stability index exceeds 0.2.",
                  "Customers with fewer than three logins per month are weighted higher.",
                  "Use it for weekly batch scoring only.", "If you see drift, please open an issue and we will retrain it.",
                  "Found input variables with inconsistent numbers of samples.", "Did you mean to pass the test split?")


@st.composite
def system_paragraphs(draw: Draw) -> str:
    claims = draw(st.lists(st.sampled_from(_SYSTEM_CLAIMS), min_size=2, max_size=4, unique=True))
    sentences = [f"{draw(st.sampled_from(_SYSTEM_SUBJECTS))} {claim}." for claim in claims]
    sentences += draw(st.lists(st.sampled_from(_SYSTEM_ADVICE), min_size=1, max_size=3, unique=True))
    return " ".join(draw(st.permutations(sentences)))


_COLUMNS = ("customer_id", "age", "income", "segment", "tenure_months", "churned", "region", "score", "visits")
_SEGMENTS = ("gold", "silver", "bronze", "trial", "enterprise")


def _column_values(rng: random.Random, column: str, rows: int) -> list[Any]:
    if column in ("segment", "region"):
        pool = _SEGMENTS if column == "segment" else ("north", "south", "east", "west")
        return [rng.choice(pool) for _ in range(rows)]
    if column in ("income", "score"):
        return [round(rng.uniform(0, 200_000 if column == "income" else 1), 3) for _ in range(rows)]
    if column == "churned":
        return [rng.random() < 0.3 for _ in range(rows)]
    return [rng.randint(0, 99_999 if column == "customer_id" else 120) for _ in range(rows)]


@st.composite
def dataframes(draw: Draw) -> Entity:
    """A small table in one of the JSON forms pandas writes (`to_json(orient=...)`, `to_dict()`),
    built by hand: pandas is not needed to know its formats."""
    columns = draw(st.lists(st.sampled_from(_COLUMNS), min_size=3, max_size=6, unique=True))
    rows = draw(st.integers(5, 20))
    rng = _rng(draw)
    data = {c: _column_values(rng, c, rows) for c in columns}
    index = list(range(rows))
    records = [{c: data[c][i] for c in columns} for i in index]
    orient = draw(st.sampled_from(("records", "columns", "index", "split", "values", "table", "list")))
    if orient == "records":
        value: Any = records
    elif orient == "columns":   # also what df.to_dict() gives, keys made strings by JSON
        value = {c: {str(i): data[c][i] for i in index} for c in columns}
    elif orient == "index":
        value = {str(i): records[i] for i in index}
    elif orient == "split":
        value = {"columns": columns, "index": index, "data": [[data[c][i] for c in columns] for i in index]}
    elif orient == "values":
        value = [[data[c][i] for c in columns] for i in index]
    elif orient == "table":
        fields = [{"name": "index", "type": "integer"}] + [{"name": c, "type": "string"} for c in columns]
        value = {"schema": {"fields": fields, "primaryKey": ["index"], "pandas_version": "1.4.0"},
                 "data": [{"index": i, **records[i]} for i in index]}
    else:                       # df.to_dict("list")
        value = data
    return Entity("dataframe", DATA_SHAPED, "json", value, ("sample", "inputs", "head", "preview", "batch"))


DATAFRAME_TEXT_FORMS = ("csv", "tsv", "markdown", "to_string", "html", "python_records", "python_columns")


@st.composite
def dataframe_texts(draw: Draw, form: str | None = None) -> Entity:
    """A small table printed as text, the ways a DataFrame is written into a string:
    `to_csv()` (comma or tab), `to_markdown()`, `to_string()` / `print(df)`, `to_html()`, and
    the Python literal `str(df.to_dict("records"))` / `str(df.to_dict())` (an f-string in a
    log line or an exception message)."""
    form = form or draw(st.sampled_from(DATAFRAME_TEXT_FORMS))
    columns = draw(st.lists(st.sampled_from(_COLUMNS), min_size=3, max_size=6, unique=True))
    rows = draw(st.integers(5, 20))
    rng = _rng(draw)
    data = {c: _column_values(rng, c, rows) for c in columns}
    cells = [[str(data[c][i]) for c in columns] for i in range(rows)]
    if form in ("csv", "tsv"):
        delimiter = "," if form == "csv" else "\t"
        text = "\n".join(delimiter.join(row) for row in [columns, *cells]) + "\n"
    elif form == "markdown":
        lines = ["| | " + " | ".join(columns) + " |", "|---:|" + "|".join("---:" for _ in columns) + "|"]
        lines += [f"| {i} | " + " | ".join(row) + " |" for i, row in enumerate(cells)]
        text = "\n".join(lines)
    elif form == "to_string":
        widths = [max(len(c), *(len(row[j]) for row in cells)) for j, c in enumerate(columns)]
        pad = len(str(rows))
        lines = [" " * pad + "  " + "  ".join(c.rjust(w) for c, w in zip(columns, widths))]
        lines += [str(i).ljust(pad) + "  " + "  ".join(v.rjust(w) for v, w in zip(row, widths))
                  for i, row in enumerate(cells)]
        text = "\n".join(lines)
    elif form == "html":
        head = "".join(f"<th>{c}</th>" for c in columns)
        body = "".join(f"<tr><th>{i}</th>" + "".join(f"<td>{v}</td>" for v in row) + "</tr>\n"
                       for i, row in enumerate(cells))
        text = f'<table border="1" class="dataframe">\n<thead><tr><th></th>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>'
    elif form == "python_records":
        text = str([{c: data[c][i] for c in columns} for i in range(rows)])
    else:
        text = str({c: dict(enumerate(data[c])) for c in columns})
    return Entity("dataframe", DATA_SHAPED, "json", text, ("sample", "inputs", "head", "preview", "batch"))


@st.composite
def embeddings(draw: Draw) -> Entity:
    count = draw(st.integers(64, 768))
    digits = draw(st.integers(4, 8))
    seed = draw(st.integers(0, 2**32 - 1))
    values, state = [], seed
    for _ in range(count):  # a small LCG: hypothesis drawing 768 floats one by one is slow
        state = (state * 6364136223846793005 + 1442695040888963407) % 2**64
        values.append(round((state / 2**64 - 0.5) * 0.2, digits))
    return Entity("embedding", DATA_SHAPED, "json", values, ("embedding", "vector", "emb", "features"))


ENTITIES: dict[str, st.SearchStrategy[Entity]] = {
    "email": emails(), "phone": phones(), "card": card_numbers(), "ssn": ssns(), "iban": ibans(),
    "person_name": person_names(), "postal_address": postal_addresses(),
    "aws_access_key": aws_access_keys(), "github_token": github_tokens(), "pem_private_key": pem_private_keys(),
    "pickle": pickles(), "png": pngs(), "npy": npy_arrays(),
    "prose": st.one_of(prose_paragraphs(), prose_in_registers()), "dataframe": dataframes(), "embedding": embeddings(),
}
ENTITY_SHAPES = {"email": "text", "phone": "digits", "card": "digits", "ssn": "digits", "iban": "text",
                 "person_name": "text", "postal_address": "text", "aws_access_key": "text", "github_token": "text",
                 "pem_private_key": "text", "pickle": "bytes", "png": "bytes", "npy": "bytes",
                 "prose": "text", "dataframe": "json", "embedding": "json"}


# --- encodings -----------------------------------------------------------------------------

ALL_SHAPES = frozenset({"text", "digits", "bytes", "json"})
TEXTUAL = frozenset({"text", "digits"})


@dataclass(frozen=True)
class Encoding:
    """A way a user (or an attacker) writes a value. `encode` gives a string or a JSON value;
    `needs_context` marks encodings that keep no shape of their own (a bare number), which only
    a key can identify: they are placed under one of the entity's context keys."""

    name: str
    encode: Callable[[Entity, Draw], Any]
    accepts: frozenset[str] = ALL_SHAPES
    only: frozenset[str] | None = None      # entity classes, where the encoding needs a feature
    needs_context: bool = False
    structured: bool = False                # gives a JSON value (list, dict, number), not a string

    def applies_to(self, entity_cls: str) -> bool:
        if self.only is not None and entity_cls not in self.only:
            return False
        return ENTITY_SHAPES[entity_cls] in self.accepts

    def gives_text(self, entity_cls: str) -> bool:
        """Whether the encoded value is a string (the plain form of a table is not)."""
        if self.name == "plain":
            return ENTITY_SHAPES[entity_cls] != "json"
        return not self.structured


def _plain(entity: Entity, draw: Draw) -> Any:
    return entity.value if entity.shape == "json" else entity.text


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _zero_width(entity: Entity, draw: Draw) -> str:
    joiner = draw(st.sampled_from(("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")))
    text = entity.text
    step = draw(st.integers(1, 3))
    return joiner.join(text[i:i + step] for i in range(0, len(text), step))


def _chunks(draw: Draw, items: Any, max_parts: int = 64) -> list[Any]:
    size = max(draw(st.integers(2, 8)), -(-len(items) // max_parts))
    return [items[i:i + size] for i in range(0, len(items), size)]


def _fragment_source(entity: Entity) -> Any:
    # A list (embedding, table rows) splits into shorter lists; anything else as text.
    return entity.value if entity.shape == "json" and isinstance(entity.value, list) else entity.text


def _sibling_fragments(entity: Entity, draw: Draw) -> dict[str, Any]:
    parts = _chunks(draw, _fragment_source(entity), max_parts=16)
    stem = draw(st.sampled_from(("part", "frag", "chunk", "p", "seg", entity.context_keys[0])))
    style = draw(st.sampled_from(("_{}", "{}", "_part_{}")))
    return {stem + style.format(i): part for i, part in enumerate(parts)}


def _list_fragments(entity: Entity, draw: Draw) -> list[Any]:
    return _chunks(draw, _fragment_source(entity))


def _at_dot(entity: Entity, draw: Draw) -> str:
    local, _, domain = entity.text.partition("@")
    at = draw(st.sampled_from((" [at] ", "[at]", "(at)", " (AT) ", " at ", "{at}")))
    dot = draw(st.sampled_from(("[dot]", "(dot)", " dot ", " DOT ", ".")))
    return local + at + domain.replace(".", dot)


def _base64_lines(entity: Entity, draw: Draw) -> str:
    text = base64.b64encode(entity.raw).decode()
    width = draw(st.sampled_from((16, 60, 64, 76)))
    breaker = draw(st.sampled_from(("\n", "\r\n", " ")))
    return breaker.join(text[i:i + width] for i in range(0, len(text), width))


def _hex_0x(entity: Entity, draw: Draw) -> str:
    if draw(st.booleans()):
        return "0x" + entity.raw.hex()
    return " ".join(f"0x{b:02x}" for b in entity.raw)


def _json_float(entity: Entity, draw: Draw) -> float:
    return float(int(entity.digits or "0"))


def _digit_list(entity: Entity, draw: Draw) -> list[Any]:
    as_text = draw(st.booleans())
    return [d if as_text else int(d) for d in entity.digits or ""]


def _gzip_base64(entity: Entity, draw: Draw) -> str:
    return base64.b64encode(gzip.compress(entity.raw, mtime=0)).decode()


ENCODINGS: dict[str, Encoding] = {e.name: e for e in (
    Encoding("plain", _plain),
    Encoding("percent", lambda e, d: "".join(f"%{b:02X}" for b in e.text.encode())),
    Encoding("html_entities", lambda e, d: "".join((f"&#{ord(c)};", f"&#x{ord(c):x};")[d(st.booleans())]
                                                   if i < 8 else f"&#{ord(c)};" for i, c in enumerate(e.text))),
    Encoding("json_escapes", lambda e, d: "".join(f"\\u{ord(c):04x}" for c in e.text)),
    Encoding("nested_json", lambda e, d: json.dumps({d(st.sampled_from(("value", "note", "payload", "data"))):
                                                         _plain(e, d)})),
    Encoding("double_json", lambda e, d: json.dumps(json.dumps({"v": _plain(e, d)}))),
    Encoding("base64", lambda e, d: base64.b64encode(e.raw).decode()),
    Encoding("base64_urlsafe", lambda e, d: base64.urlsafe_b64encode(e.raw).decode().rstrip("=")),
    Encoding("base64_lines", _base64_lines),
    Encoding("base32", lambda e, d: base64.b32encode(e.raw).decode()),
    Encoding("base85", lambda e, d: base64.b85encode(e.raw).decode()),
    Encoding("ascii85", lambda e, d: base64.a85encode(e.raw, adobe=d(st.booleans())).decode()),
    Encoding("hex", lambda e, d: e.raw.hex()),
    Encoding("hex_0x", _hex_0x),
    Encoding("hex_upper", lambda e, d: e.raw.hex().upper()),
    Encoding("hex_spaced", lambda e, d: e.raw.hex(d(st.sampled_from((" ", ":", "\n"))))),
    Encoding("reversed", lambda e, d: e.text[::-1], accepts=frozenset({"text", "digits", "bytes"})),
    Encoding("rot13", lambda e, d: codecs.encode(e.text, "rot13"), accepts=TEXTUAL),
    Encoding("char_list", lambda e, d: list(e.text), accepts=TEXTUAL, structured=True),
    Encoding("sibling_fragments", _sibling_fragments, structured=True),
    Encoding("list_fragments", _list_fragments, structured=True),
    Encoding("at_dot_obfuscation", _at_dot, accepts=frozenset({"text"}), only=frozenset({"email"})),
    Encoding("fullwidth", lambda e, d: _fullwidth(e.text), accepts=TEXTUAL),
    Encoding("zero_width_split", _zero_width, accepts=TEXTUAL),
    Encoding("json_int", lambda e, d: int(e.digits or "0"), accepts=frozenset({"digits"}), needs_context=True,
             structured=True),
    Encoding("json_float", _json_float, accepts=frozenset({"digits"}),
             only=frozenset({"card", "phone", "ssn"}), needs_context=True, structured=True),
    Encoding("digit_list", _digit_list, accepts=frozenset({"digits"}), needs_context=True, structured=True),
    Encoding("digits_by_line", lambda e, d: "\n".join(e.digits or ""), accepts=frozenset({"digits"}),
             needs_context=True),
    Encoding("latin1_bytes", lambda e, d: e.raw.decode("latin-1"), accepts=frozenset({"bytes"})),
    Encoding("gzip_base64", _gzip_base64),
)}


# --- placements ----------------------------------------------------------------------------


@cache
def captured_records() -> tuple[tuple[str, dict[str, Any]], ...]:
    """(file:line, record) of every captured request, in order."""
    found = []
    for file in sorted(CAPTURED.glob("*.jsonl")):
        for number, line in enumerate(file.read_text().splitlines(), 1):
            if line.strip():
                found.append((f"{file.name}:{number}", json.loads(line)))
    return tuple(found)


@cache
def templates(method: str, path_pattern: str, needs: str | None = None) -> tuple[dict[str, Any], ...]:
    """Captured requests of one endpoint (optionally those whose body holds `needs`)."""
    pattern = re.compile(path_pattern)
    leaking = {where for where, decision in labelled_clean().items() if decision == "leak"}
    chosen = tuple(record for where, record in captured_records()
                   if where not in leaking and record["method"] == method and pattern.fullmatch(record["path"])
                   and (needs is None or needs in (record.get("body_text") or "")))
    assert chosen, f"no captured {method} {path_pattern} request"
    return chosen


NEUTRAL_KEYS = ("note", "info", "value", "detail", "debug", "extra", "x", "meta", "comment_1", "owner")
NESTING_KEYS = ("debug", "inputs", "sample", "details", "extra", "context", "payload", "run")


@dataclass(frozen=True)
class Placement:
    """A place users fill, in a real SDK request. `build` writes the value there and returns
    the request record and the JSON path the finding must sit at or under. `text_only`: the
    place holds a string (a name, a tag, a header ...). `redacted`: the default policy redacts
    the field (source code, value reprs, tracebacks), so the gate may redact instead of block."""

    name: str
    build: Callable[[Any, Entity, Encoding, Draw], tuple[dict[str, Any], str]]
    text_only: bool = True
    keyed: bool = False                 # the user chooses the key the value sits under
    ascii_line: bool = False            # one printable ASCII line (headers, path segments)
    max_chars: int = 1_000_000
    redacted: bool = False

    def accepts(self, value: Any) -> bool:
        if self.text_only and not isinstance(value, str):
            return False
        if isinstance(value, str):
            if len(value) > self.max_chars:
                return False
            if self.ascii_line and not all(" " <= c <= "~" for c in value):
                return False
        return True


def _render(parts: tuple[Any, ...], root: str = "$") -> str:
    out = [root]
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", part):
            out.append(f".{part}")
        else:
            out.append(f"[{json.dumps(part)}]")
    return "".join(out)


def _key(draw: Draw, entity: Entity, encoding: Encoding) -> str:
    if encoding.needs_context:
        return draw(st.sampled_from(entity.context_keys))
    return draw(st.sampled_from(NEUTRAL_KEYS + entity.context_keys))


def _with_body(record: dict[str, Any], body: Any) -> dict[str, Any]:
    out = {k: v for k, v in record.items() if k != "response_status"}
    out["body_text"] = json.dumps(body)
    out["headers"] = {k: v for k, v in record["headers"].items() if k.lower() != "content-length"}
    return out


def _metadata_type(value: Any) -> str:
    return {str: "str", int: "int", float: "float", bool: "bool", list: "list", dict: "dict"}.get(type(value), "str")


def _run_metadata(draw: Draw) -> tuple[dict[str, Any], dict[str, Any]]:
    record = draw(st.sampled_from(templates("POST", "/api/v1/run-metadata")))
    return record, json.loads(record["body_text"])


def _place_run_metadata_value(value: Any, entity: Entity, encoding: Encoding, draw: Draw):
    record, body = _run_metadata(draw)
    key = _key(draw, entity, encoding)
    body["values"][key] = value
    body["types"][key] = _metadata_type(value)
    return _with_body(record, body), _render(("values", key))


def _place_nested_user_dict(value: Any, entity: Entity, encoding: Encoding, draw: Draw):
    record, body = _run_metadata(draw)
    depth = draw(st.integers(1, 4))
    path = [draw(st.sampled_from(NESTING_KEYS)) for _ in range(depth)]
    key = _key(draw, entity, encoding)
    node: dict[str, Any] = {key: value, "n_rows": draw(st.integers(1, 500))}
    for part in reversed(path[1:]):
        node = {part: node}
    body["values"][path[0]] = node
    body["types"][path[0]] = "dict"
    return _with_body(record, body), _render(("values", *path, key))


def _place_list_item(value: Any, entity: Entity, encoding: Encoding, draw: Draw):
    record, body = _run_metadata(draw)
    key = _key(draw, entity, encoding)
    items: list[Any] = draw(st.lists(st.sampled_from((0.5, 0.3, 0.21, 3, "baseline", "v2")), max_size=3))
    index = draw(st.integers(0, len(items)))
    items.insert(index, value)
    body["values"][key] = items
    body["types"][key] = "list"
    return _with_body(record, body), _render(("values", key, index))


def _place_step_parameter(value: Any, entity: Entity, encoding: Encoding, draw: Draw):
    record = draw(st.sampled_from(templates("POST", "/api/v1/pipeline_snapshots")))
    body = json.loads(record["body_text"])
    key = _key(draw, entity, encoding)
    steps = sorted(body.get("step_configurations") or {})
    if steps and draw(st.booleans()):
        step = draw(st.sampled_from(steps))
        parameters = body["step_configurations"][step]["config"].setdefault("parameters", {})
        parts: tuple[Any, ...] = ("step_configurations", step, "config", "parameters", key)
    else:
        parameters = body["pipeline_configuration"].setdefault("parameters", {}) or {}
        body["pipeline_configuration"]["parameters"] = parameters
        parts = ("pipeline_configuration", "parameters", key)
    parameters[key] = value
    return _with_body(record, body), _render(parts)


def _runs(draw: Draw) -> tuple[dict[str, Any], dict[str, Any]]:
    record = draw(st.sampled_from(templates("POST", "/api/v1/runs")))
    return record, json.loads(record["body_text"])


def _place_run_name(value: Any, entity: Entity, encoding: Encoding, draw: Draw):
    record, body = _runs(draw)
    body["name"] = value
    return _with_body(record, body), "$.name"


def _place_tag_name(value: Any, entity: Entity, encoding: Encoding, draw: Draw):
    record, body = _runs(draw)
    tags = list(body.get("tags") or [])
    index = draw(st.integers(0, len(tags)))
    tags.insert(index, value)
    body["tags"] = tags
    return _with_body(record, body), _render(("tags", index))


def _artifact_batch(draw: Draw) -> tuple[dict[str, Any], dict[str, Any], int]:
    record = draw(st.sampled_from(templates("POST", "/api/v1/artifact_versions/batch")))
    body = json.loads(record["body_text"])
    return record, body, draw(st.integers(0, len(body) - 1))


def _place_artifact_metadata_key(value: Any, entity: Entity, encoding: Encoding, draw: Draw):
    record, body, index = _artifact_batch(draw)
    body[index].setdefault("metadata", {})[value] = draw(st.integers(0, 100))
    return _with_body(record, body), _render((index, "metadata"))


def _place_artifact_metadata_value(value: Any, entity: Entity, encoding: Encoding, draw: Draw):
    record, body, index = _artifact_batch(draw)
    key = _key(draw, entity, encoding)
    body[index].setdefault("metadata", {})[key] = value
    return _with_body(record, body), _render((index, "metadata", key))


def _place_artifact_value_repr(value: Any, entity: Entity, encoding: Encoding, draw: Draw):
    record, body, index = _artifact_batch(draw)
    body[index].setdefault("metadata", {})["string_representation"] = f"{{'note': {value!r}}}"
    return _with_body(record, body), _render((index, "metadata", "string_representation"))


def _place_model_description(value: Any, entity: Entity, encoding: Encoding, draw: Draw):
    record = draw(st.sampled_from(templates("POST", "/api/v1/pipeline_snapshots", needs='"description": "')))
    body = json.loads(record["body_text"])
    model = body["pipeline_configuration"]["model"]
    model["description"] = draw(st.sampled_from((value, f"{model.get('description') or ''} Owner: {value}")))
    return _with_body(record, body), "$.pipeline_configuration.model.description"


def _failed_step(draw: Draw) -> tuple[dict[str, Any], dict[str, Any]]:
    record = draw(st.sampled_from(templates("PUT", r"/api/v1/steps/[0-9a-f-]+", needs="exception_info")))
    return record, json.loads(record["body_text"])


def _place_exception_message(value: Any, entity: Entity, encoding: Encoding, draw: Draw):
    record, body = _failed_step(draw)
    body["exception_info"]["message"] = draw(st.sampled_from((value, f"lookup failed for {value}")))
    return _with_body(record, body), "$.exception_info.message"


def _place_exception_traceback(value: Any, entity: Entity, encoding: Encoding, draw: Draw):
    record, body = _failed_step(draw)
    body["exception_info"]["traceback"] += f"KeyError: {value!r}\n"
    return _with_body(record, body), "$.exception_info.traceback"


def _place_step_source_code(value: Any, entity: Entity, encoding: Encoding, draw: Draw):
    record = draw(st.sampled_from(templates("POST", "/api/v1/steps")))
    body = json.loads(record["body_text"])
    body["source_code"] = f"{body['source_code']}\nREVIEWER = {json.dumps(value)}\n"
    return _with_body(record, body), "$.source_code"


def _place_query_parameter(value: Any, entity: Entity, encoding: Encoding, draw: Draw):
    record = draw(st.sampled_from(templates("GET", r"/api/v1/(runs|stacks|pipelines|steps|projects|components)")))
    record = {k: v for k, v in record.items() if k != "response_status"}
    name = draw(st.sampled_from(("name", "name", "tag", "user")))
    record["query"] = [pair for pair in record["query"] if pair[0] != name] + [[name, value]]
    return record, _render((name,), root="$query")


_HEADER_NAMES = ("X-Request-ID", "Idempotency-Key", "X-Customer", "X-Forwarded-For", "Via", "Forwarded",
                 "Accept-Language", "X-Debug-Context", "X-Trace-User")


def _place_header(value: Any, entity: Entity, encoding: Encoding, draw: Draw):
    _, record = draw(st.sampled_from(captured_records()))
    record = {k: v for k, v in record.items() if k != "response_status"}
    name = draw(st.sampled_from(_HEADER_NAMES))
    headers = {k: v for k, v in record["headers"].items() if k.lower() != name.lower()}
    headers[name] = value
    record["headers"] = headers
    return record, _render((name.lower(),), root="$headers")


def _place_path_parameter(value: Any, entity: Entity, encoding: Encoding, draw: Draw):
    record = draw(st.sampled_from(templates("GET", r"/api/v1/(runs|stacks|pipelines|projects)/[0-9a-f-]{36}")))
    record = {k: v for k, v in record.items() if k != "response_status"}
    prefix = record["path"].rsplit("/", 1)[0]
    record["path"] = f"{prefix}/{quote(value, safe='')}"
    return record, "$path"


PLACEMENTS: dict[str, Placement] = {p.name: p for p in (
    Placement("run_metadata_value", _place_run_metadata_value, text_only=False, keyed=True),
    Placement("nested_user_dict", _place_nested_user_dict, text_only=False, keyed=True),
    Placement("list_item", _place_list_item, text_only=False, keyed=True),
    Placement("step_parameter", _place_step_parameter, text_only=False, keyed=True),
    Placement("run_name", _place_run_name),
    Placement("tag_name", _place_tag_name),
    Placement("artifact_metadata_key", _place_artifact_metadata_key),
    Placement("artifact_metadata_value", _place_artifact_metadata_value, text_only=False, keyed=True),
    Placement("model_description", _place_model_description),
    Placement("exception_message", _place_exception_message),
    Placement("query_parameter", _place_query_parameter, max_chars=8192),
    Placement("header", _place_header, ascii_line=True, max_chars=4096),
    Placement("path_parameter", _place_path_parameter, max_chars=1024),
    Placement("step_source_code", _place_step_source_code, redacted=True),
    Placement("exception_traceback", _place_exception_traceback, redacted=True),
    Placement("artifact_value_repr", _place_artifact_value_repr, redacted=True),
)}


def _short(value: Any, limit: int = 90) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


# Placements by kind, so a test id names the kind of place as well as the entity and encoding:
# user data the SDK passes through (metadata, parameters), named fields of the SDK's models,
# the transport (query, headers, path), and fields the default policy redacts.
PLACEMENT_GROUPS: dict[str, tuple[str, ...]] = {
    "user_data": ("run_metadata_value", "nested_user_dict", "list_item", "step_parameter",
                  "artifact_metadata_value", "artifact_metadata_key"),
    "named_field": ("run_name", "tag_name", "model_description", "exception_message"),
    "transport": ("query_parameter", "header", "path_parameter"),
    "redacted": ("step_source_code", "exception_traceback", "artifact_value_repr"),
}
assert sorted(sum(PLACEMENT_GROUPS.values(), ())) == sorted(PLACEMENTS)


@dataclass(frozen=True, repr=False)
class Leak:
    """One generated case: what was written, how, where; the record and the expected path."""

    entity: Entity
    encoding: Encoding
    placement: Placement
    value: Any                      # the encoded value, as written
    record: dict[str, Any]
    path: str

    def describe(self) -> str:
        """For assertion messages and hypothesis' falsifying examples: the case without the
        whole request."""
        return (f"{self.entity.cls} {_short(self.entity.text)} as {self.encoding.name} {_short(self.value)} "
                f"at {self.placement.name} {self.record['method']} {self.record['path']} ({self.path})")

    __repr__ = describe

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # hypothesis' falsifying-example printer
        printer.text(self.describe())


@st.composite
def leaks(draw: Draw, entity_cls: str, encoding_name: str, placement_names: tuple[str, ...] | None = None) -> Leak:
    entity = draw(ENTITIES[entity_cls], label="entity")
    encoding = ENCODINGS[encoding_name]
    value = encoding.encode(entity, draw)
    names = placement_names or tuple(PLACEMENTS)
    candidates = [PLACEMENTS[n] for n in names if PLACEMENTS[n].accepts(value)
                  and (PLACEMENTS[n].keyed or not encoding.needs_context)]
    if not candidates:
        if placement_names is not None:
            reject()  # too long for a URL or a header this time; combinations() keeps the rest
        candidates = [PLACEMENTS["run_metadata_value"]]
    placement = draw(st.sampled_from(candidates), label="placement")
    record, path = placement.build(value, entity, encoding, draw)
    return Leak(entity, encoding, placement, value, record, path)


# How the plain value goes where it cannot go as it is: a table in a string field as its JSON
# text, text with line breaks or non-ASCII letters in a header or path segment percent-encoded.
_PLACEABLE_AS = ("plain", "nested_json", "percent")


@st.composite
def placed_leaks(draw: Draw, entity_cls: str, placement_name: str) -> Leak:
    """The entity written at one placement, as plainly as that place can hold it."""
    entity = draw(ENTITIES[entity_cls], label="entity")
    placement = PLACEMENTS[placement_name]
    for name in _PLACEABLE_AS:
        encoding = ENCODINGS[name]
        value = encoding.encode(entity, draw)
        if placement.accepts(value):
            break
    else:
        raise AssertionError(f"{placement_name} holds none of {_PLACEABLE_AS} of {entity_cls}")
    record, path = placement.build(value, entity, encoding, draw)
    return Leak(entity, encoding, placement, value, record, path)


def combinations() -> list[tuple[str, str, str]]:
    """Every (entity class, encoding, placement group) where the encoding applies to the class
    and the group has a place that holds what it gives (JSON values and values that only a
    key identifies go in user data only)."""
    found = []
    for entity in ENTITIES:
        for name, encoding in ENCODINGS.items():
            if not encoding.applies_to(entity):
                continue
            text = encoding.gives_text(entity) and not encoding.needs_context
            for group in PLACEMENT_GROUPS:
                if group == "user_data" or text:
                    found.append((entity, name, group))
    return found


# --- splitting ------------------------------------------------------------------------------
# A value cut into pieces that each look like nothing: over sibling fields of any naming, list
# items, an index -> piece dict, one-key records, single characters inside one string, lists
# of byte integers. SPLIT_FORMS draw the cut and the naming; SPLIT_PLACES write the pieces into
# a real SDK request: a run-metadata value (body), repeated query parameters, run tags.

_PART_NAMES = (("bin", "mid", "last4"), ("first", "middle", "last"), ("head", "body", "tail"), ("a", "b", "c", "d"),
               ("x", "y", "z"), ("left", "right"), ("start", "rest"), ("hi", "lo"), ("one", "two", "three", "four"))
_PART_STEMS = ("card", "part", "frag", "chunk", "seg", "piece", "k", "v", "s", "data", "note")
_SEPARATORS = (",", ", ", ";", "|", " ", "-", ":", "/")


def _cut(draw: Draw, text: str, parts: int | None = None, widths: tuple[int, int] = (1, 4)) -> list[str]:
    """`text` in consecutive pieces: `parts` of about equal length, or pieces of `widths`."""
    if parts is not None:
        size = -(-len(text) // parts)
        return [text[i:i + size] for i in range(0, len(text), size)]
    rng = _rng(draw)
    pieces, at = [], 0
    while at < len(text):
        step = rng.randint(*widths)
        pieces.append(text[at:at + step])
        at += step
    return pieces


def _named_siblings(draw: Draw, text: str) -> dict[str, str]:
    names = draw(st.sampled_from(_PART_NAMES))
    stem = draw(st.sampled_from(("", *_PART_STEMS)))
    pieces = _cut(draw, text, parts=len(names))
    return {(f"{stem}_{name}" if stem else name): piece for name, piece in zip(names, pieces)}


def _numbered_siblings(draw: Draw, text: str) -> dict[str, str]:
    stem = draw(st.sampled_from(_PART_STEMS))
    style = draw(st.sampled_from(("{}_{}", "{}{}", "{}-{}", "{}.{}", "{}_{:02d}", "{}_part_{}")))
    first = draw(st.integers(0, 1))
    pieces = _cut(draw, text, widths=draw(st.sampled_from(((1, 4), (3, 8), (6, 32)))))
    return {style.format(stem, first + i): piece for i, piece in enumerate(pieces)}


def _letter_siblings(draw: Draw, text: str) -> dict[str, str]:
    # `a`, `b`, `c` ... (past `z`, `aa`, `ab` ...): keys that count in letters.
    pieces = _cut(draw, text, widths=draw(st.sampled_from(((1, 4), (3, 12)))))
    letters = string.ascii_lowercase
    keys = [letters[i] if i < 26 else letters[i // 26 - 1] + letters[i % 26] for i in range(len(pieces))]
    return dict(zip(keys, pieces))


def _short_items(draw: Draw, text: str) -> list[str]:
    return _cut(draw, text, widths=draw(st.sampled_from(((1, 1), (1, 4), (3, 3), (4, 4), (2, 4)))))


def _index_dict(draw: Draw, text: str) -> dict[str, str]:
    pieces = _cut(draw, text, widths=draw(st.sampled_from(((1, 4), (2, 8)))))
    order = list(range(len(pieces)))
    if draw(st.booleans()):
        _rng(draw).shuffle(order)  # written in any order: the indexes say where a piece goes
    return {str(i): pieces[i] for i in order}


def _one_key_records(draw: Draw, text: str) -> list[dict[str, str]]:
    key = draw(st.sampled_from(("v", "c", "s", "value", "chunk", "t")))
    return [{key: piece} for piece in _cut(draw, text, widths=draw(st.sampled_from(((1, 1), (1, 4), (3, 6)))))]


def _char_string(draw: Draw, text: str) -> str:
    return draw(st.sampled_from(_SEPARATORS)).join(text)


def _byte_lists(draw: Draw, text: str) -> Any:
    data = list(text.encode("utf-8"))
    if len(data) <= 64 and draw(st.booleans()):
        return data  # one list of byte values
    pieces = _cut(draw, data, widths=(4, 16))  # type: ignore[arg-type]
    return {f"b{i}": piece for i, piece in enumerate(pieces)}


SPLIT_FORMS: dict[str, Callable[[Draw, str], Any]] = {
    "named_siblings": _named_siblings,
    "numbered_siblings": _numbered_siblings,
    "letter_siblings": _letter_siblings,
    "short_items": _short_items,
    "index_dict": _index_dict,
    "one_key_records": _one_key_records,
    "char_string": _char_string,
    "byte_lists": _byte_lists,
}
# Entities split as text (a blob as its base64, how it travels in JSON). Tables and embeddings
# are split as lists by the `sibling_fragments`/`list_fragments` encodings.
SPLIT_ENTITIES = tuple(name for name, shape in ENTITY_SHAPES.items() if shape != "json")
# Where each form can go: the body holds any JSON; repeated query parameters and run tags hold
# strings (a list of pieces, or the one string of characters).
SPLIT_PLACES = ("body", "query", "tags")
_FLAT_FORMS = frozenset({"short_items", "char_string"})


def split_cases() -> list[tuple[str, str, str]]:
    """(entity class, split form, place) for every combination a place can hold."""
    return [(entity, form, place) for entity in SPLIT_ENTITIES for form in SPLIT_FORMS for place in SPLIT_PLACES
            if place == "body" or form in _FLAT_FORMS]


@dataclass(frozen=True, repr=False)
class Split:
    entity: Entity
    form: str
    place: str
    value: Any
    record: dict[str, Any]
    path: str

    def describe(self) -> str:
        return (f"{self.entity.cls} {_short(self.entity.text)} as {self.form} {_short(self.value)} "
                f"in {self.place} {self.record['method']} {self.record['path']} ({self.path})")

    __repr__ = describe

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.describe())


@st.composite
def splits(draw: Draw, entity_cls: str, form: str, place: str) -> Split:
    entity = draw(ENTITIES[entity_cls], label="entity")
    value = SPLIT_FORMS[form](draw, entity.text)
    if place == "body":
        record, body = _run_metadata(draw)
        key = draw(st.sampled_from(NEUTRAL_KEYS + entity.context_keys))
        body["values"][key] = value
        body["types"][key] = _metadata_type(value)
        return Split(entity, form, place, value, _with_body(record, body), _render(("values", key)))
    pieces = value if isinstance(value, list) else [value]
    if place == "query":
        record = draw(st.sampled_from(templates("GET", r"/api/v1/(runs|stacks|pipelines|steps|projects|components)")))
        record = {k: v for k, v in record.items() if k != "response_status"}
        name = draw(st.sampled_from(("name", "tag", "user", "q", "filter")))
        if sum(len(p) + len(name) + 2 for p in pieces) > 16384:
            reject()  # past what a URL holds
        record["query"] = [pair for pair in record["query"] if pair[0] != name] + [[name, p] for p in pieces]
        return Split(entity, form, place, value, record, _render((name,), root="$query"))
    record, body = _runs(draw)
    body["tags"] = list(body.get("tags") or []) + pieces
    return Split(entity, form, place, value, _with_body(record, body), "$.tags")


# Obfuscations of single characters, for every textual entity: Latin letters swapped for
# Cyrillic or Greek look-alikes (some or all of them), and a lone surrogate (what a lenient JSON
# parser lets through) before an `@` or between characters.
_HOMOGLYPHS = {"a": "а", "c": "с", "e": "е", "o": "о", "p": "р", "x": "х", "y": "у", "i": "і", "j": "ј", "s": "ѕ",
               "A": "Α", "B": "Β", "E": "Ε", "H": "Η", "I": "Ι", "K": "Κ", "M": "Μ", "N": "Ν", "O": "Ο", "P": "Ρ",
               "T": "Τ", "X": "Χ", "Z": "Ζ", "C": "С"}


def homoglyphs(draw: Draw, text: str) -> str:
    rng = _rng(draw)
    share = draw(st.sampled_from((0.3, 0.6, 1.0)))
    return "".join(_HOMOGLYPHS[c] if c in _HOMOGLYPHS and rng.random() < share else c for c in text)


def lone_surrogates(draw: Draw, text: str) -> str:
    rng = _rng(draw)
    surrogate = chr(draw(st.integers(0xD800, 0xDFFF)))
    if "@" in text and draw(st.booleans()):
        return text.replace("@", surrogate + "@", 1)
    at = rng.randrange(1, max(2, len(text)))
    return text[:at] + surrogate + text[at:]


OBFUSCATIONS: dict[str, Callable[[Draw, str], str]] = {"homoglyphs": homoglyphs, "lone_surrogate": lone_surrogates}
OBFUSCATED_ENTITIES = tuple(name for name, shape in ENTITY_SHAPES.items() if shape in ("text", "digits"))


@st.composite
def obfuscated(draw: Draw, entity_cls: str, obfuscation: str) -> Split:
    """The entity with its characters obfuscated, as a run-metadata value."""
    entity = draw(ENTITIES[entity_cls], label="entity")
    value = OBFUSCATIONS[obfuscation](draw, entity.text)
    record, body = _run_metadata(draw)
    key = draw(st.sampled_from(NEUTRAL_KEYS + entity.context_keys))
    body["values"][key] = value
    body["types"][key] = "str"
    return Split(entity, obfuscation, "body", value, _with_body(record, body), _render(("values", key)))


# Short metadata that sits in siblings and lists and is no piece of anything: tags, flags,
# hyperparameters, labels, hex id parts, version parts, git sha prefixes.
_SHORT_TAGS = ("v1", "v2", "gpu", "cpu", "eu", "us", "prod", "dev", "nightly", "ab", "ml", "rc1", "x86", "arm",
               "fp16", "bf16", "int8", "tpu", "a100", "h100", "ok", "new", "old", "beta", "lts", "ci", "qa")
_SHORT_LABELS = ("cat", "dog", "bird", "car", "bus", "yes", "no", "pos", "neg", "low", "mid", "high", "red", "blue",
                 "O", "B-PER", "I-PER", "B-LOC", "PAD", "UNK", "CLS", "SEP", "0", "1", "2")
_HYPERPARAMETERS = {"lr": ("1e-4", "3e-4", "0.001", "0.01"), "bs": ("16", "32", "64", "128"), "wd": ("0.0", "1e-5"),
                    "opt": ("adam", "sgd", "adamw"), "act": ("relu", "gelu", "tanh"), "ep": ("10", "20", "100"),
                    "seed": ("42", "1234", "7"), "gpu": ("0", "1", "a100"), "fp": ("16", "32")}


@st.composite
def clean_split_lookalikes(draw: Draw) -> tuple[str, Any]:
    """(kind, value) of short sibling metadata that must not be joined into a finding."""
    rng = _rng(draw)
    kind = draw(st.sampled_from(("tags", "hyperparameters", "labels", "hex_id_parts", "version_parts", "sha_prefixes",
                                 "letter_keys", "index_labels")))
    if kind == "tags":
        return kind, draw(st.lists(st.sampled_from(_SHORT_TAGS), min_size=3, max_size=24))
    if kind == "hyperparameters":
        keys = draw(st.lists(st.sampled_from(sorted(_HYPERPARAMETERS)), min_size=2, max_size=9, unique=True))
        return kind, {k: draw(st.sampled_from(_HYPERPARAMETERS[k])) for k in keys}
    if kind == "labels":
        return kind, draw(st.lists(st.sampled_from(_SHORT_LABELS), min_size=3, max_size=64))
    if kind == "hex_id_parts":
        uid = "%032x" % rng.getrandbits(128)
        parts = [uid[:8], uid[8:12], uid[12:16], uid[16:20], uid[20:]]
        return kind, dict(zip(("time_low", "time_mid", "time_hi", "clock_seq", "node"), parts)) \
            if draw(st.booleans()) else parts
    if kind == "version_parts":
        parts = [str(draw(st.integers(0, 30))) for _ in range(draw(st.integers(2, 4)))]
        return kind, dict(zip(("major", "minor", "patch", "build"), parts)) if draw(st.booleans()) else parts
    if kind == "sha_prefixes":
        return kind, ["%07x" % rng.getrandbits(28) for _ in range(draw(st.integers(3, 20)))]
    if kind == "letter_keys":
        values = draw(st.lists(st.sampled_from(_SHORT_TAGS + _SHORT_LABELS), min_size=2, max_size=8))
        return kind, dict(zip(string.ascii_lowercase, values))
    values = draw(st.lists(st.sampled_from(_SHORT_LABELS), min_size=2, max_size=20))
    return kind, {str(i): v for i, v in enumerate(values)}


@st.composite
def clean_splits(draw: Draw, place: str) -> Split:
    """Short clean metadata written in the body, in repeated query parameters or as run tags."""
    kind, value = draw(clean_split_lookalikes())
    entity = Entity("clean", frozenset(), "text", kind, ())
    if place == "body":
        record, body = _run_metadata(draw)
        key = draw(st.sampled_from(("tags", "labels", "config", "params", "version", "commit", "classes", "x")))
        body["values"][key] = value
        body["types"][key] = _metadata_type(value)
        return Split(entity, kind, place, value, _with_body(record, body), _render(("values", key)))
    pieces = value if isinstance(value, list) else list(value.values())
    pieces = [p if isinstance(p, str) else json.dumps(p) for p in pieces]  # strings where strings go
    if place == "query":
        record = draw(st.sampled_from(templates("GET", r"/api/v1/(runs|stacks|pipelines|steps|projects|components)")))
        record = {k: v for k, v in record.items() if k != "response_status"}
        record["query"] = [pair for pair in record["query"] if pair[0] != "tag"] + [["tag", p] for p in pieces]
        return Split(entity, kind, place, value, record, "$query.tag")
    record, body = _runs(draw)
    body["tags"] = list(body.get("tags") or []) + pieces
    return Split(entity, kind, place, value, _with_body(record, body), "$.tags")


# --- clean look-alikes ----------------------------------------------------------------------
# Metadata that shares a shape with an entity class and must not be flagged: ML vocabulary in
# capitalised words (names), numbers and short number lists (cards, phones, embeddings),
# digests and ids (secrets, blobs), short descriptions (prose). Placed where the leaks go.

_ML_TERMS = ("Random Forest", "Gradient Boosting", "Logistic Regression", "Support Vector Machine", "Adam",
             "Stochastic Gradient Descent", "Isolation Forest", "Hugging Face", "Google Cloud", "Amazon SageMaker",
             "Vertex AI", "Scikit Learn", "Light GBM", "Cat Boost", "Early Stopping", "Cosine Annealing",
             "Iris Setosa", "Boston Housing", "Titanic Survival", "Churn Model", "Baseline Model")
_ML_KEYS = ("model_name", "optimizer", "algorithm", "framework", "dataset", "scheduler", "estimator", "platform")
_REGIONS = ("eu-west-1", "us-east-2", "us-central1", "europe-west4", "ap-southeast-2", "westeurope")
_DESCRIPTIONS = ("Predicts customer churn from usage counts.", "Nightly retraining of the ranking model.",
                 "Baseline with default hyperparameters.", "Validation split held out by week.",
                 "Fine-tuned on the March snapshot.", "Evaluation of the candidate against production.")


@st.composite
def clean_lookalikes(draw: Draw, kind: str) -> tuple[Any, tuple[str, ...]]:
    """(value, keys it would sit under) of one look-alike class."""
    rng = _rng(draw)
    if kind == "ml_vocabulary":
        return draw(st.sampled_from(_ML_TERMS)), _ML_KEYS
    if kind == "cloud_region":
        return draw(st.sampled_from(_REGIONS)), ("region", "location", "zone")
    if kind == "metric":
        value = draw(st.sampled_from((round(rng.random(), 4), rng.randint(1, 500), rng.randint(10**5, 10**9))))
        return value, ("accuracy", "epochs", "rows", "seed", "n_samples", "latency_ms")
    if kind == "metric_list":
        return [round(rng.random(), 4) for _ in range(draw(st.integers(2, 12)))], ("per_epoch_loss", "thresholds")
    if kind == "epoch_millis":
        return rng.randint(1_600_000_000_000, 1_900_000_000_000), ("started_ms", "timestamp_ms", "ts")
    if kind == "digest":
        return rng.randbytes(draw(st.sampled_from((16, 20, 32)))).hex(), ("data_hash", "checksum", "fingerprint")
    if kind == "version":
        return draw(st.sampled_from((f"{rng.randint(0, 3)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}",
                                     f"scikit-learn=={rng.randint(0, 1)}.{rng.randint(0, 6)}.{rng.randint(0, 3)}",
                                     f"v{rng.randint(1, 40)}"))), ("version", "model_version", "requirement")
    if kind == "dataset_uri":
        bucket = "-".join(rng.sample(_BUCKET_WORDS, 2))
        return draw(st.sampled_from((f"s3://{bucket}/datasets/train.parquet", f"gs://{bucket}/features/v3/",
                                     f"/mnt/data/{bucket}/eval.csv"))), ("dataset_uri", "source", "path")
    if kind == "description":
        return draw(st.sampled_from(_DESCRIPTIONS)), ("description", "note", "summary")
    if kind == "date":
        return f"{rng.randint(2020, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", ("cutoff", "as_of")
    raise ValueError(kind)


LOOKALIKES = ("ml_vocabulary", "cloud_region", "metric", "metric_list", "epoch_millis", "digest", "version",
              "dataset_uri", "description", "date")


@st.composite
def placed_lookalikes(draw: Draw, kind: str) -> Leak:
    """A look-alike at any placement that holds it, as a Leak with no entity to find."""
    value, keys = draw(clean_lookalikes(kind), label="look-alike")
    entity = Entity(f"clean_{kind}", frozenset(), "json", value, keys)
    encoding = ENCODINGS["plain"]
    candidates = [p for p in PLACEMENTS.values() if p.accepts(value)]
    placement = draw(st.sampled_from(candidates), label="placement")
    record, path = placement.build(value, entity, encoding, draw)
    return Leak(entity, encoding, placement, value, record, path)


# --- names: clean look-alikes of person names ------------------------------------------------
# Capitalised words that name no one: model cards and descriptions in five languages (German
# capitalises every noun), eponymous methods ("Adam", "Nelder-Mead", "Kalman"), model, library,
# company, product and cloud-region names, run, step and pipeline names, tags, parameter values,
# given names that are also words ("Max Pooling", "Mark Duplicates"), author-free licence texts.
# The gate must find no person (nor block) wherever they are placed.

_EPONYMOUS_METHODS = {
    "en": ("the Adam optimizer", "Xavier init", "Kaiming initialisation", "Nesterov momentum", "a Huber loss",
           "Gini impurity", "Pearson correlation", "Spearman rank correlation", "a Wilcoxon signed-rank test",
           "a Kalman filter", "Levenshtein distance", "Gaussian noise", "naive Bayes", "a Nelder-Mead search",
           "a Cholesky decomposition", "Bonferroni correction", "a Mann-Whitney U test", "Kaplan-Meier curves"),
    "de": ("dem Optimierer Adam", "Xavier-Initialisierung", "Kaiming-Initialisierung", "Nesterov-Momentum",
           "dem Huber-Verlust", "der Gini-Unreinheit", "der Pearson-Korrelation", "der Spearman-Rangkorrelation",
           "einem Wilcoxon-Test", "einem Kalman-Filter", "der Levenshtein-Distanz", "Gaußschem Rauschen",
           "Naive Bayes", "dem Nelder-Mead-Verfahren", "der Cholesky-Zerlegung", "der Bonferroni-Korrektur"),
    "fr": ("l'optimiseur Adam", "l'initialisation Xavier", "l'initialisation Kaiming", "le moment de Nesterov",
           "la perte de Huber", "l'indice de Gini", "la corrélation de Pearson", "la corrélation de Spearman",
           "un test de Wilcoxon", "un filtre de Kalman", "la distance de Levenshtein", "un bruit gaussien",
           "Bayes naïf", "la méthode de Nelder-Mead", "la décomposition de Cholesky"),
    "es": ("el optimizador Adam", "la inicialización Xavier", "la inicialización Kaiming", "el momento de Nesterov",
           "la pérdida de Huber", "el índice de Gini", "la correlación de Pearson", "la correlación de Spearman",
           "una prueba de Wilcoxon", "un filtro de Kalman", "la distancia de Levenshtein", "ruido gaussiano",
           "Bayes ingenuo", "el método de Nelder-Mead", "la descomposición de Cholesky"),
    "nl": ("de Adam-optimizer", "Xavier-initialisatie", "Kaiming-initialisatie", "Nesterov-momentum",
           "het Huber-verlies", "de Gini-onzuiverheid", "de Pearson-correlatie", "de Spearman-rangcorrelatie",
           "een Wilcoxon-toets", "een Kalman-filter", "de Levenshtein-afstand", "Gaussische ruis", "naïeve Bayes",
           "de Nelder-Mead-methode", "de Cholesky-ontbinding"),
}
# Products, libraries, companies and services a model card names.
NAMED_PRODUCTS = ("PyTorch Lightning", "Hugging Face Transformers", "Amazon SageMaker", "Google Vertex AI",
                  "Azure Machine Learning", "Databricks", "Snowflake", "scikit-learn", "LightGBM", "XGBoost",
                  "CatBoost", "TensorFlow", "Weights & Biases", "MLflow", "Kubeflow", "Apache Spark", "Ray Tune",
                  "Optuna", "Great Expectations", "Evidently", "Label Studio", "Sentence Transformers", "spaCy",
                  "Apache Airflow", "BigQuery", "Redshift", "Delta Lake", "DuckDB", "Polars")
# Model names, some of them given names too (Dolly, Hermes, Marian, Aya, Luna).
MODEL_NAMES = ("Mistral Large", "Claude Sonnet", "Llama Guard", "Gemma", "Falcon", "Qwen", "Florence-2",
               "MarianMT", "Marian", "Dolly", "Hermes", "Aya Expanse", "Luna", "Whisper Large", "Stable Diffusion",
               "BERT Base Uncased", "Zephyr", "Vicuna", "Alpaca", "Granite", "Mamba", "Nemotron", "Jamba", "Orca Mini")
CLOUD_REGION_NAMES = ("Frankfurt", "São Paulo", "Dublin", "Paris", "Stockholm", "Mumbai", "Tokyo", "Sydney",
                      "Singapore", "Montréal", "Zürich", "Milan", "Madrid", "Amsterdam", "Europe (Frankfurt)",
                      "South America (São Paulo)", "US East (N. Virginia)", "Asia Pacific (Tokyo)",
                      "Canada (Central)", "Europe (Ireland)", "West Europe", "Germany West Central")
# Parameter values: solvers, optimizers, initialisers, losses, criteria, tests, filters.
METHOD_VALUES = ("Adam", "AdamW", "Nelder-Mead", "Cholesky", "L-BFGS-B", "Powell", "Newton-CG", "Levenberg-Marquardt",
                 "Xavier", "Kaiming Uniform", "Kaiming Normal", "Glorot", "Huber", "Gini", "Pearson", "Spearman",
                 "Kendall", "Wilcoxon", "Kalman", "Mann-Whitney U", "Benjamini-Hochberg", "Holm-Bonferroni",
                 "Nesterov", "Levenshtein", "Jaro-Winkler", "Gauss-Seidel", "Runge-Kutta", "Savitzky-Golay",
                 "Box-Cox", "Yeo-Johnson", "Hann", "Hamming", "Bartlett", "Welch", "Tukey", "Fisher", "Student")
# Given names that are English words, in the names of runs, steps and tags.
WORD_NAMES = ("Max Pooling", "Mark Duplicates", "Grant Permissions", "Bill Of Materials Parser", "Rose Species Classifier",
              "Will Churn Model", "Chase Leads Scorer", "Summer Campaign Uplift", "June Backfill", "August Holdout",
              "Amber Threshold", "Ray Cluster Warmup", "Miles Per Gallon Regressor", "Sky Segmentation",
              "River Level Forecast", "Stone Texture Classifier", "Frank Bias Audit", "Hope Score", "Grace Period Check",
              "Drew Samples", "Dean List Ranker", "Max Depth Sweep", "Mark Outliers", "Pat Down Detector",
              "Guy Wire Tension Model", "Joy Signal Sentiment", "Dawn Shift Forecast", "Ivy Growth Model")
_WORKFLOW_NAMES = ("Train Model", "Evaluate Model", "Deploy To Staging", "Load Data", "Feature Engineering",
                   "Data Validation", "Model Promotion", "Batch Inference", "Nightly Retraining", "Drift Report",
                   "Hyperparameter Search", "Churn Prediction Pipeline", "Fraud Detection Training",
                   "Demand Forecast Frankfurt", "Sales Forecast DACH", "Customer Lifetime Value", "Kundenabwanderung",
                   "Betrugserkennung Training", "Prévision Des Ventes", "Detección De Fraude", "Klantverloop Voorspelling")
_LICENCE_TEXTS = (
    'Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except in compliance '
    'with the License. Unless required by applicable law or agreed to in writing, software distributed under the '
    'License is distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND.',
    "Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated "
    "documentation files (the \"Software\"), to deal in the Software without restriction. THE SOFTWARE IS PROVIDED "
    "\"AS IS\", WITHOUT WARRANTY OF ANY KIND.",
    "Redistribution and use in source and binary forms, with or without modification, are permitted provided that "
    "the following conditions are met: Redistributions of source code must retain the above copyright notice.",
    "This model card is licensed under Creative Commons Attribution 4.0 International (CC BY 4.0). Copyright 2024 "
    "The Project Authors.",
    "GNU General Public License v3.0. This program is free software: you can redistribute it and/or modify it "
    "under the terms of the GNU General Public License as published by the Free Software Foundation.",
    "Lizenziert unter der Apache-Lizenz, Version 2.0. Die Software wird ohne Mängelgewähr und ohne jegliche "
    "Gewährleistung bereitgestellt.",
)

# Model-card sentences per language: {target}, {data}, {method}, {method2}, {product}, {model}, {region}.
_CARD_SENTENCES = {
    "en": ("This model predicts {target} from {data}.", "Trained with {method} on {product}, fine-tuned from {model}.",
           "Evaluated with {method2} on the held-out March snapshot.", "Served from {region} on {product}.",
           "Known limitations: Performance Drops On Rare Classes; see the Evaluation Report.",
           "Intended Use: internal Forecasting and Capacity Planning only."),
    "de": ("Dieses Modell sagt {target} aus {data} voraus.", "Trainiert mit {method} auf {product}, feinabgestimmt aus {model}.",
           "Bewertet mit {method2} auf dem zurückgehaltenen Datensatz vom März.", "Bereitgestellt in der Region {region} auf {product}.",
           "Bekannte Einschränkungen: Die Genauigkeit sinkt bei seltenen Klassen und bei Daten aus neuen Filialen.",
           "Verwendungszweck: Interne Planung der Lagerbestände durch die Fachabteilung Vertrieb.",
           "Die Merkmale umfassen Umsatz, Kundenalter, Vertragslaufzeit und Anzahl der Beschwerden."),
    "fr": ("Ce modèle prédit {target} à partir {data}.", "Entraîné avec {method} sur {product}, affiné depuis {model}.",
           "Évalué avec {method2} sur l'instantané de Mars mis de côté.", "Déployé dans la région {region} sur {product}.",
           "Limites Connues : la Précision baisse sur les Classes Rares.",
           "Usage Prévu : Planification Interne des Stocks par le Service Commercial."),
    "es": ("Este modelo predice {target} a partir {data}.", "Entrenado con {method} sobre {product}, ajustado desde {model}.",
           "Evaluado con {method2} sobre la instantánea de Marzo reservada.", "Desplegado en la región {region} sobre {product}.",
           "Limitaciones Conocidas: la Precisión baja en Clases Poco Frecuentes.",
           "Uso Previsto: Planificación Interna del Inventario por el Departamento Comercial."),
    "nl": ("Dit model voorspelt {target} op basis van {data}.", "Getraind met {method} op {product}, verfijnd vanaf {model}.",
           "Geëvalueerd met {method2} op de achtergehouden Maart-momentopname.", "Uitgerold in de regio {region} op {product}.",
           "Bekende Beperkingen: de Nauwkeurigheid daalt bij Zeldzame Klassen.",
           "Beoogd Gebruik: Interne Voorraadplanning door de Afdeling Verkoop."),
}
_CARD_TARGETS = {
    "en": ("customer churn", "Weekly Demand per Store", "Credit Default Risk", "fraudulent transactions"),
    "de": ("die Kundenabwanderung", "den Wochenbedarf je Filiale", "das Kreditausfallrisiko", "Betrugsfälle im Zahlungsverkehr"),
    "fr": ("l'attrition des clients", "la Demande Hebdomadaire par Magasin", "le Risque de Défaut", "les transactions frauduleuses"),
    "es": ("la fuga de clientes", "la Demanda Semanal por Tienda", "el Riesgo de Impago", "las transacciones fraudulentas"),
    "nl": ("klantverloop", "de Wekelijkse Vraag per Winkel", "het Kredietrisico", "frauduleuze transacties"),
}
_CARD_DATA = {
    "en": ("monthly usage counts", "the Transaction History of the last quarter", "Sensor Readings from Line 4"),
    "de": ("monatlichen Nutzungsdaten", "den Transaktionsdaten des letzten Quartals", "Sensordaten der Produktionslinie Vier"),
    "fr": ("des comptages d'usage mensuels", "de l'Historique des Transactions du dernier trimestre", "des Relevés des Capteurs"),
    "es": ("de los recuentos de uso mensuales", "del Historial de Transacciones del último trimestre", "de las Lecturas de Sensores"),
    "nl": ("maandelijkse gebruikstellingen", "de Transactiegeschiedenis van het laatste kwartaal", "Sensormetingen van Lijn Vier"),
}
CARD_LANGUAGES = tuple(_CARD_SENTENCES)


@st.composite
def model_cards(draw: Draw, language: str | None = None) -> str:
    """A model card or description of three to six sentences in one language, naming methods,
    products, models and a region, and no one."""
    language = language or draw(st.sampled_from(CARD_LANGUAGES))
    methods = _EPONYMOUS_METHODS[language]
    slots = {"target": draw(st.sampled_from(_CARD_TARGETS[language])), "data": draw(st.sampled_from(_CARD_DATA[language])),
             "method": draw(st.sampled_from(methods)), "method2": draw(st.sampled_from(methods)),
             "product": draw(st.sampled_from(NAMED_PRODUCTS)), "model": draw(st.sampled_from(MODEL_NAMES)),
             "region": draw(st.sampled_from(CLOUD_REGION_NAMES))}
    sentences = draw(st.lists(st.sampled_from(_CARD_SENTENCES[language]), min_size=3, max_size=6, unique=True))
    return " ".join(sentence.format(**slots) for sentence in sentences)


_PARAMETER_KEYS = ("optimizer", "solver", "method", "init", "initializer", "loss", "criterion", "correlation",
                   "test", "filter", "window", "distance", "transform")

# kind → (strategy of the value, keys it sits under, the constant a source file would assign it to).
NAME_LOOKALIKES: dict[str, tuple[st.SearchStrategy[str], tuple[str, ...], str]] = {
    "model_card": (model_cards(), ("description", "model_card", "summary", "notes", "beschreibung"), "MODEL_CARD"),
    "method_value": (st.sampled_from(METHOD_VALUES), _PARAMETER_KEYS, "SOLVER"),
    "product_name": (st.sampled_from(NAMED_PRODUCTS), ("framework", "library", "platform", "backend", "engine"), "FRAMEWORK"),
    "model_name": (st.sampled_from(MODEL_NAMES), ("base_model", "model_name", "teacher", "llm", "checkpoint"), "BASE_MODEL"),
    "region_name": (st.sampled_from(CLOUD_REGION_NAMES), ("region", "location", "datacenter", "zone_name"), "REGION"),
    "word_name": (st.sampled_from(WORD_NAMES), ("run_name", "step", "experiment", "pipeline", "stage"), "STAGE"),
    "workflow_name": (st.sampled_from(_WORKFLOW_NAMES), ("pipeline", "step", "run_name", "job", "task"), "PIPELINE"),
    "licence_text": (st.sampled_from(_LICENCE_TEXTS), ("license", "licence", "license_text", "terms"), "LICENSE_TEXT"),
}


def _place_clean_query(value: Any, entity: Entity, encoding: Encoding, draw: Draw):
    record = draw(st.sampled_from(templates("GET", r"/api/v1/(runs|stacks|pipelines|steps|projects|components)")))
    record = {k: v for k, v in record.items() if k != "response_status"}
    name = draw(st.sampled_from(("name", "tag")))
    record["query"] = [pair for pair in record["query"] if pair[0] != name] + [[name, value]]
    return record, _render((name,), root="$query")


def _place_clean_description(value: Any, entity: Entity, encoding: Encoding, draw: Draw):
    record = draw(st.sampled_from(templates("POST", "/api/v1/pipeline_snapshots", needs='"description": "')))
    body = json.loads(record["body_text"])
    body["pipeline_configuration"]["model"]["description"] = value
    return _with_body(record, body), "$.pipeline_configuration.model.description"


def _clean_source_placement(constant: str) -> Placement:
    def build(value: Any, entity: Entity, encoding: Encoding, draw: Draw):
        record = draw(st.sampled_from(templates("POST", "/api/v1/steps")))
        body = json.loads(record["body_text"])
        body["source_code"] = f"{body['source_code']}\n{constant} = {json.dumps(value, ensure_ascii=False)}\n"
        return _with_body(record, body), "$.source_code"
    return Placement("step_source_code", build, redacted=True)


# The placements of every kind of place, but where the leak placements write a person's context
# around the value ("Owner: ...", `REVIEWER = ...`, `?user=`, `X-Trace-User`): there a given name
# is a person, and these values must be read as what they are.
_CLEAN_NAME_PLACEMENTS = (*(PLACEMENTS[name] for name in (
    "run_metadata_value", "nested_user_dict", "list_item", "step_parameter", "artifact_metadata_value",
    "artifact_metadata_key", "run_name", "tag_name", "exception_message", "path_parameter",
    "exception_traceback", "artifact_value_repr")),
    Placement("query_parameter", _place_clean_query, max_chars=8192),
    Placement("model_description", _place_clean_description),
)
NAME_PLACEMENT_KINDS = ("user_data", "named_field", "transport", "redacted")
_KIND_OF_PLACEMENT = {name: group for group, names in PLACEMENT_GROUPS.items() for name in names}


@st.composite
def placed_name_lookalikes(draw: Draw, kind: str, group: str | None = None) -> Leak:
    """A name look-alike of `kind` at a placement (of the kind of place `group`, if given) under
    one of its own keys, as a Leak with no entity to find."""
    values, keys, constant = NAME_LOOKALIKES[kind]
    value = draw(values, label="look-alike")
    entity = Entity(f"clean_{kind}", frozenset(), "text", value, keys)
    encoding = Encoding("plain", _plain, needs_context=True)   # under its own keys only
    candidates = [p for p in (*_CLEAN_NAME_PLACEMENTS, _clean_source_placement(constant))
                  if p.accepts(value) and (group is None or _KIND_OF_PLACEMENT[p.name] == group)]
    if not candidates:
        reject()
    placement = draw(st.sampled_from(candidates), label="placement")
    record, path = placement.build(value, entity, encoding, draw)
    return Leak(entity, encoding, placement, value, record, path)


# --- secrets x encodings x kinds of place, and their clean look-alikes ----------------------

def secret_encodings(fmt: str, group: str) -> tuple[str, ...]:
    """The test suite's encodings that apply to a secret format (text) at a kind of place: JSON
    values (lists, sibling keys) only in user data, and a format only a key identifies only
    as it is written or escaped (an encoded password under `password` is still the key's)."""
    if fmt in KEY_ONLY_FORMATS:
        return ("plain", "percent", "html_entities", "json_escapes", "fullwidth") if group == "user_data" else ()
    every = tuple(name for name, encoding in ENCODINGS.items()
                  if "text" in encoding.accepts and encoding.only is None and not encoding.needs_context)
    if group == "user_data":
        return every
    # Elsewhere the place is what is tested: the value as the place holds it and escaped.
    return tuple(name for name in every if name in _PLACE_ENCODINGS)


_PLACE_ENCODINGS = ("plain", "percent", "html_entities", "json_escapes", "nested_json", "base64")


@st.composite
def secret_leaks(draw: Draw, fmt: str, encoding_name: str, group: str) -> Leak:
    """A secret of format `fmt`, written with `encoding_name`, at a place of kind `group`."""
    entity = draw(SECRET_FORMATS[fmt], label="secret")
    encoding = ENCODINGS[encoding_name]
    if fmt in KEY_ONLY_FORMATS:
        encoding = dataclasses.replace(encoding, needs_context=True)
    value = encoding.encode(entity, draw)
    candidates = [PLACEMENTS[name] for name in PLACEMENT_GROUPS[group] if PLACEMENTS[name].accepts(value)
                  and (PLACEMENTS[name].keyed or not encoding.needs_context)]
    if not candidates:
        reject()  # too long for a URL or a header this time
    placement = draw(st.sampled_from(candidates), label="placement")
    record, path = placement.build(value, entity, encoding, draw)
    return Leak(entity, encoding, placement, value, record, path)


# Metadata that looks like a secret to a careless rule: digests, ids, ZenML secret references,
# artifact URIs, encoded configs, commit shas, model names. None of them may be flagged.
SECRET_LOOKALIKES = ("md5", "sha1", "sha256", "docker_digest", "uuid", "secret_reference", "artifact_uri",
                     "base64_json_config", "git_sha", "model_name")
_ARCHITECTURES = ("Llama", "Qwen2.5", "Mistral", "Phi", "bert", "roberta", "XGBClassifier", "ResNet", "ViT", "T5")
_MODEL_PARTS = ("Instruct", "Coder", "base", "large", "uncased", "GPTQ", "Int4", "AWQ", "chat", "distilled", "ft")


@st.composite
def secret_lookalikes(draw: Draw, kind: str) -> tuple[Any, tuple[str, ...]]:
    """(value, keys it sits under) of one kind of secret look-alike."""
    rng = _rng(draw)
    if kind in ("md5", "sha1", "sha256"):
        size = {"md5": 16, "sha1": 20, "sha256": 32}[kind]
        return rng.randbytes(size).hex(), ("content_hash", "checksum", "data_hash", "md5", "digest")
    if kind == "docker_digest":
        image = draw(st.sampled_from(("zenml/trainer", "registry.acme.example/ml/serve", "python")))
        return f"{image}@sha256:{rng.randbytes(32).hex()}", ("image", "parent_image", "base_image")
    if kind == "uuid":
        return str(uuid_from(rng)), ("run_id", "step_id", "model_version_id", "id")
    if kind == "secret_reference":
        name = draw(st.sampled_from(("aws_creds", "mlflow-prod", "db", "wandb", "Databricks_Workspace_01")))
        key = draw(st.sampled_from(("password", "api_key", "secret_access_key", "token", "client_secret")))
        return f"{{{{ {name}.{key} }}}}", ("password", "api_key", "token", "aws_secret_access_key", "value")
    if kind == "artifact_uri":
        root = draw(st.sampled_from(("s3://acme-zenml/artifacts", "gs://ml-store/zenml", "/srv/mlops/zenml/store",
                                     "/mnt/data/ZenML", "az://Container01/zenml")))
        uri = f"{root}/{uuid_from(rng)}/trainer/output/{uuid_from(rng)}/{rng.getrandbits(32):08x}"
        return uri, ("uri", "artifact_uri", "location", "path")
    if kind == "base64_json_config":
        config = {"learning_rate": round(rng.random() / 10, 4), "epochs": rng.randint(1, 50),
                  "optimizer": draw(st.sampled_from(("adam", "sgd"))), "seed": rng.randint(0, 9999)}
        return base64.b64encode(json.dumps(config).encode()).decode(), ("config", "params_b64", "settings")
    if kind == "git_sha":
        return rng.randbytes(20).hex()[: draw(st.sampled_from((7, 12, 40)))], ("commit", "git_sha", "revision")
    if kind == "model_name":
        name = f"{rng.choice(_ARCHITECTURES)}-{rng.randint(1, 70)}B-{rng.choice(_MODEL_PARTS)}-{rng.choice(_MODEL_PARTS)}"
        return draw(st.sampled_from((name, f"acme/{name}-v{rng.randint(1, 9)}", name.replace("-", "_")))), \
            ("model_name", "base_model", "checkpoint")
    raise ValueError(kind)


def uuid_from(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@st.composite
def placed_secret_lookalikes(draw: Draw, kind: str) -> Leak:
    """A secret look-alike at any place that holds it, under one of its own keys or a neutral one."""
    value, keys = draw(secret_lookalikes(kind), label="look-alike")
    entity = Entity(f"clean_{kind}", frozenset(), "text", value, keys)
    candidates = [p for p in PLACEMENTS.values() if p.accepts(value)]
    placement = draw(st.sampled_from(candidates), label="placement")
    record, path = placement.build(value, entity, ENCODINGS["plain"], draw)
    return Leak(entity, ENCODINGS["plain"], placement, value, record, path)


# --- clean traffic with fresh ids and roots --------------------------------------------------

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?")
_RUN_NAME_TIME = re.compile(r"\d{4}_\d{2}_\d{2}-\d{2}_\d{2}_\d{2}_\d{6}")
_DIGEST = re.compile(r"(?<![0-9A-Za-z])(?:[0-9a-f]{64}|[0-9a-f]{40}|[0-9a-f]{32})(?![0-9A-Za-z])")
_URI_HEX_SEGMENT = re.compile(r"(?<=/)[0-9a-f]{8}(?=/|$|\")")
_CAPTURE_ROOT = re.compile(r"/tmp/metagate-capture-[A-Za-z0-9_]+/client-[A-Za-z0-9_]+/local_stores")
_SOURCE_ROOT = "/work/main"

_SERVICE_USERS = ("runner", "ubuntu", "mlops", "ci", "svc-ml", "jovyan", "zenml", "build", "ec2-user")
_BUCKET_WORDS = ("ml", "artifacts", "zenml", "prod", "dev", "models", "team", "data", "lake", "store")


@st.composite
def artifact_roots(draw: Draw) -> tuple[str, str]:
    """(root, separator) of an artifact store: local paths, object stores, mounts, Windows."""
    user = draw(st.sampled_from(_SERVICE_USERS))
    bucket = "-".join(draw(st.lists(st.sampled_from(_BUCKET_WORDS), min_size=1, max_size=3)))
    bucket += draw(st.sampled_from(("", f"-{draw(st.integers(0, 9999))}")))
    prefix = draw(st.sampled_from(("", "zenml/", "artifacts/", "team-a/zenml/", f"{draw(st.integers(1, 99))}/")))
    return draw(st.sampled_from((
        (f"/home/{user}/.config/zenml/local_stores", "/"),
        (f"/Users/{user}/Library/Application Support/zenml/local_stores", "/"),
        ("/var/lib/zenml/local_stores", "/"),
        (f"s3://{bucket}/{prefix}".rstrip("/"), "/"),
        (f"gs://{bucket}/{prefix}".rstrip("/"), "/"),
        (f"az://{bucket}/{prefix}".rstrip("/"), "/"),
        (f"/mnt/{draw(st.sampled_from(('data', 'nfs', 'efs', 'shared')))}/zenml/{bucket}", "/"),
        (f"/srv/mlops/zenml/{bucket}", "/"),
        (f"/opt/{bucket}/stores", "/"),
        (f"C:\\Users\\{user}\\AppData\\Roaming\\zenml\\local_stores", "\\"),
        (f"D:\\{bucket}\\zenml", "\\"),
    )))


@st.composite
def fresh_clean_record(draw: Draw, record: dict[str, Any]) -> dict[str, Any]:
    """`record` with its UUIDs (consistently), timestamps, hex digests, request ids and
    artifact-store root regenerated at random: what the same pipeline sends on another day,
    from another machine, into another store."""
    uuids: dict[str, str] = {}
    root, separator = draw(artifact_roots(), label="root")
    source_root = draw(st.sampled_from(("/work/main", f"/home/{draw(st.sampled_from(_SERVICE_USERS))}/src/ml",
                                        "/app", "/builds/ml/pipelines", "/opt/pipelines")), label="source root")
    pool_uuid = draw(st.lists(st.uuids(version=4).map(str), min_size=64, max_size=64, unique=True), label="ids")
    seeds = draw(st.randoms(use_true_random=False), label="rng")

    def uuid_for(match: re.Match[str]) -> str:
        old = match.group(0)
        if old not in uuids:
            uuids[old] = pool_uuid[len(uuids) % len(pool_uuid)]
        return uuids[old]

    # Digests from a seeded generator: hypothesis' own randoms shrink to "0000…", which no
    # `hexdigest()` writes (32 decimal digits are refused in a hash field, schemas.py).
    digests = random.Random(draw(st.integers(0, 2**32 - 1), label="digest seed"))

    def fresh_hex(match: re.Match[str]) -> str:
        return "".join(digests.choice("0123456789abcdef") for _ in match.group(0))

    def timestamp(match: re.Match[str]) -> str:
        fraction = match.group(1)
        stamp = (f"{seeds.randint(2020, 2030)}-{seeds.randint(1, 12):02d}-{seeds.randint(1, 28):02d}"
                 f"T{seeds.randint(0, 23):02d}:{seeds.randint(0, 59):02d}:{seeds.randint(0, 59):02d}")
        if fraction:
            stamp += "." + "".join(seeds.choice(string.digits) for _ in fraction[1:])
        return stamp

    def run_name_time(match: re.Match[str]) -> str:
        return (f"{seeds.randint(2020, 2030)}_{seeds.randint(1, 12):02d}_{seeds.randint(1, 28):02d}-"
                f"{seeds.randint(0, 23):02d}_{seeds.randint(0, 59):02d}_{seeds.randint(0, 59):02d}_"
                f"{seeds.randint(0, 999999):06d}")

    def text(value: str) -> str:
        value = _UUID.sub(uuid_for, value)
        value = _TIMESTAMP.sub(timestamp, value)
        value = _RUN_NAME_TIME.sub(run_name_time, value)
        value = _DIGEST.sub(fresh_hex, value)
        value = value.replace(_SOURCE_ROOT, source_root)
        if _CAPTURE_ROOT.search(value):
            value = _URI_HEX_SEGMENT.sub(fresh_hex, value)
            head, _, tail = _CAPTURE_ROOT.sub("\0", value).partition("\0")
            value = head + root + (tail.replace("/", separator) if separator != "/" else tail)
        return value

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return text(node)
        if isinstance(node, list):
            return [walk(item) for item in node]
        if isinstance(node, dict):
            return {text(k) if _UUID.search(k) else k: walk(v) for k, v in node.items()}
        return node

    out = copy.deepcopy({k: v for k, v in record.items() if k not in ("response_status", "label")})
    out["path"] = text(out["path"])
    out["query"] = [[name, text(value)] for name, value in out["query"]]
    headers = {}
    for name, value in out["headers"].items():
        if name.lower() == "x-request-id":
            value = "".join(seeds.choice("0123456789abcdef") for _ in value)
        elif name.lower() == "host":
            value = f"127.0.0.1:{seeds.randint(1024, 65535)}"
        elif name.lower() == "content-length":
            continue
        headers[name] = text(value)
    out["headers"] = headers
    if out.get("body_text") is not None:
        try:
            document = json.loads(out["body_text"])
        except ValueError:
            out["body_text"] = text(out["body_text"])
        else:
            out["body_text"] = json.dumps(walk(document))
    return out


@cache
def labelled_clean() -> dict[str, str]:
    """The labelled clean corpus's decision for each captured request, by "file:line"
    ("leak" for the one request of the captures that really carries a leak)."""
    found: dict[str, str] = {}
    for line in LABELLED_CLEAN.read_text().splitlines():
        case = json.loads(line)
        label = case["label"]
        found[label["source"]] = label["decision"] if label["kind"] == "clean" else "leak"
    return found


# --- numbers ---------------------------------------------------------------------------------
# Number-like PII (cards, phones, SSNs, tax ids, passports) in every form a number takes in
# JSON, and the clean numbers metadata is full of. Written from the networks' published
# ranges and from how SDK users write numbers, not from the recognizers.

# (network, IIN prefix ranges as (low, high) of equal width, lengths): ISO/IEC 7812
# registrations as the networks publish them.
CARD_NETWORK_RANGES: tuple[tuple[str, tuple[tuple[int, int], ...], tuple[int, ...]], ...] = (
    ("visa", ((4, 4),), (16,)),
    ("mastercard", ((51, 55),), (16,)),
    ("mastercard_2_series", ((222100, 272099),), (16,)),
    ("american_express", ((34, 34), (37, 37)), (15,)),
    ("discover", ((6011, 6011), (644, 649), (65, 65)), (16, 19)),
    ("jcb", ((3528, 3589),), (16, 19)),
    ("diners_club", ((300, 305), (36, 36), (38, 39)), (14, 16)),
    ("unionpay", ((62, 62),), (16, 19)),
    ("maestro", ((50, 50), (56, 58)), (16, 19)),
)
CARD_NETWORKS = tuple(name for name, _, _ in CARD_NETWORK_RANGES)


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def is_card_number(digits: str) -> bool:
    """Whether a digit string is a number some network issues (prefix, length, Luhn)."""
    for _, ranges, lengths in CARD_NETWORK_RANGES:
        if len(digits) in lengths and any(low <= int(digits[:len(str(low))]) <= high for low, high in ranges):
            return luhn_valid(digits)
    return False


@st.composite
def card_digits(draw: Draw, network: str | None = None, max_length: int = 19) -> str:
    """A Luhn-valid number in one network's ranges (any network unless named)."""
    choices = [n for n in CARD_NETWORK_RANGES if network in (None, n[0]) and min(n[2]) <= max_length]
    name, ranges, lengths = draw(st.sampled_from(choices))
    low, high = draw(st.sampled_from(ranges))
    length = draw(st.sampled_from([n for n in lengths if n <= max_length]))
    rng = _rng(draw)
    prefix = str(rng.randint(low, high))
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    return body + _luhn_digit(body)


@dataclass(frozen=True)
class NumberForm:
    """A number as written in a request: `value` is the JSON value placed; `json_text`, when
    set, is the JSON text that replaces the value's own rendering in the body (the exponent
    form `4.539004010602815e15`, which Python never writes itself)."""

    name: str
    value: Any
    json_text: str | None = None

    @property
    def is_text(self) -> bool:
        return isinstance(self.value, str)


def _exponent_text(digits: str) -> str:
    mantissa = (digits[0] + "." + digits[1:]).rstrip("0").rstrip(".")
    return f"{mantissa}e{len(digits) - 1}" if "." in mantissa else f"{mantissa}.0e{len(digits) - 1}"


def _grouped(digits: str, separator: str) -> str:
    sizes = {15: (4, 6, 5), 14: (4, 6, 4)}.get(len(digits))
    if sizes is None:
        return separator.join(digits[i:i + 4] for i in range(0, len(digits), 4))
    out, at = [], 0
    for size in sizes:
        out.append(digits[at:at + size])
        at += size
    return separator.join(out)


# Digit string forms: groups split by one of these, all digits on lines, glued to a word.
DIGIT_SEPARATORS = (" ", "  ", "-", "/", "_", "|", ".", "\n")
NUMBER_FORMS = ("json_int", "json_float", "json_exponent", "digit_string", "grouped", "glued_to_word",
                "digit_list_ints", "digit_list_strings", "digits_by_line")
# JSON doubles hold every integer up to 2**53 (sixteen digits up to 9007199254740992).
_EXACT_FLOAT = 2**53


@st.composite
def number_forms(draw: Draw, digits: str, form: str | None = None) -> NumberForm:
    """One way of writing `digits`; float forms only where a double holds the number exactly."""
    exact = int(digits) <= _EXACT_FLOAT and digits[0] != "0"
    names = [f for f in NUMBER_FORMS if exact or f not in ("json_float", "json_exponent")]
    if digits[0] == "0":
        names.remove("json_int")
    name = form or draw(st.sampled_from(names))
    if name == "json_int":
        return NumberForm(name, int(digits))
    if name == "json_float":
        return NumberForm(name, float(int(digits)))
    if name == "json_exponent":
        return NumberForm(name, float(int(digits)), _exponent_text(digits))
    if name == "digit_string":
        return NumberForm(name, digits)
    if name == "grouped":
        return NumberForm(name, _grouped(digits, draw(st.sampled_from(DIGIT_SEPARATORS))))
    if name == "glued_to_word":
        word = draw(st.sampled_from(("card", "ref", "id", "acct", "no", "x")))
        return NumberForm(name, draw(st.sampled_from((word + digits, digits + word))))
    if name == "digit_list_ints":
        return NumberForm(name, [int(d) for d in digits])
    if name == "digit_list_strings":
        return NumberForm(name, list(digits))
    if name == "digits_by_line":
        return NumberForm(name, "\n".join(digits))
    raise ValueError(name)


# International numbers in each region's own layout (python-phonenumbers' INTERNATIONAL),
# national significant numbers drawn from valid ranges: mobile and fixed lines of regions on
# every continent.
_INTERNATIONAL_PLANS = (
    ("BR", ("119########", "219########", "1130######")),
    ("DE", ("1512#######", "30########", "89#######")),
    ("GB", ("7700900###", "207946####")),
    ("FR", ("6########", "1########")),
    ("IN", ("98########", "70########")),
    ("JP", ("90########", "3########")),
    ("AU", ("4########",)),
    ("MX", ("55########",)),
    ("NG", ("803#######",)),
    ("ZA", ("82#######",)),
    ("ES", ("6########",)),
    ("IT", ("3#########",)),
    ("US", ("41555501##", "2125550###")),
)


@st.composite
def international_phones(draw: Draw) -> str:
    """A valid number with its +country code (or 00 and groups), separators as people type them."""
    region, templates = draw(st.sampled_from(_INTERNATIONAL_PLANS))
    rng = _rng(draw)
    for _ in range(20):
        national = "".join(rng.choice(string.digits) if c == "#" else c for c in draw(st.sampled_from(templates)))
        number = phonenumbers.parse(national, region)
        if phonenumbers.is_valid_number(number):
            break
    else:
        number = phonenumbers.parse("+55 11 91318 5387")
    text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    separator = draw(st.sampled_from((None, " ", "-", ".", "")))
    if separator is not None:
        code, _, rest = text.partition(" ")
        text = code + draw(st.sampled_from((" ", separator))) + re.sub(r"[\s\-]+", separator, rest)
    if re.search(r"[ .\-]", text) and draw(st.integers(0, 3)) == 0:
        text = "00" + text[1:]  # the international call prefix for '+', written in groups
    return text


def _styled(words: tuple[str, ...], style: str) -> str:
    if style == "snake":
        return "_".join(words)
    if style == "kebab":
        return "-".join(words)
    if style == "screaming":
        return "_".join(w.upper() for w in words)
    if style == "camel":
        return words[0] + "".join(w.title() for w in words[1:])
    if style == "pascal":
        return "".join(w.title() for w in words)
    if style == "dotted":
        return ".".join(words)
    raise ValueError(style)


KEY_STYLES = ("snake", "kebab", "screaming", "camel", "pascal")
PHONE_KEY_WORDS = (("phone",), ("msisdn",), ("mobile",), ("tel",), ("phone", "number"), ("mobile", "no"),
                   ("contact", "phone"), ("cell", "phone"), ("telephone",), ("customer", "msisdn"),
                   ("mobile", "number"), ("phone", "e164"))
SSN_KEY_WORDS = (("ssn",), ("tax", "id"), ("social", "security", "number"), ("ssn", "last"), ("customer", "ssn"),
                 ("tin",), ("taxpayer", "id"), ("social", "security", "no"), ("ssn", "full"), ("employee", "ssn"))
PASSPORT_KEY_WORDS = (("passport", "number"), ("passport", "no"), ("passport",), ("passport", "id"))


@st.composite
def styled_keys(draw: Draw, vocabulary: tuple[tuple[str, ...], ...]) -> str:
    return _styled(draw(st.sampled_from(vocabulary)), draw(st.sampled_from(KEY_STYLES)))


@st.composite
def key_paths(draw: Draw, vocabulary: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    """The keys above a value, outermost first: the naming key last, under zero to two
    neutral parents, or a naming phrase split between the parent and the key (`{"tax": {"id"}}`)."""
    words = draw(st.sampled_from(vocabulary))
    style = draw(st.sampled_from(KEY_STYLES))
    parents = tuple(draw(st.lists(st.sampled_from(("customer", "record", "details", "kyc", "person", "debug")),
                                  max_size=2)))
    if len(words) > 1 and draw(st.booleans()):
        return (*parents, _styled(words[:-1], style), _styled(words[-1:], style))
    return (*parents, _styled(words, style))


@st.composite
def ssn_digits(draw: Draw) -> str:
    """Nine digits the SSA issues: area 001-899 but 666, group 01-99, serial 0001-9999."""
    rng = _rng(draw)
    area = rng.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"


@st.composite
def ssn_forms(draw: Draw, digits: str) -> NumberForm:
    # A leading zero does not survive a JSON number (028345389 is 28345389): text forms only.
    numeric = ("json_int", "json_float") if digits[0] != "0" else ()
    form = draw(st.sampled_from(("dashed", "spaced", "digit_string", "digit_list_ints", "digit_list_strings",
                                 *numeric)))
    if form == "dashed":
        return NumberForm(form, f"{digits[:3]}-{digits[3:5]}-{digits[5:]}")
    if form == "spaced":
        return NumberForm(form, f"{digits[:3]} {digits[3:5]} {digits[5:]}")
    return draw(number_forms(digits, form))


@st.composite
def passport_numbers(draw: Draw) -> NumberForm:
    rng = _rng(draw)
    digits = str(rng.randint(10**8, 10**9 - 1))
    return draw(st.sampled_from((NumberForm("digit_string", digits), NumberForm("json_int", int(digits)),
                                 NumberForm("letter_prefixed", rng.choice("ACEKLX") + digits[1:]))))


# Clean numbers: what metadata is full of and no recognizer may read as PII. Each kind gives a
# JSON value and the keys it sits under (neutral and metric keys alike).
CLEAN_NUMBER_KINDS = ("metric_float", "metric_float_text", "size_or_count", "epoch", "epoch_text", "integer_id",
                      "step", "version", "date", "port", "digest", "iso_timestamp", "duration", "float_list")
_CLEAN_NUMBER_KEYS = ("value", "note", "accuracy", "loss", "total_bytes", "n_rows", "count", "size", "created",
                      "ts", "id", "step", "version", "port", "checksum", "x", "info", "latency_ms", "item_count")


@st.composite
def clean_numbers(draw: Draw, kind: str | None = None) -> tuple[Any, str]:
    """(value, key) of one clean number. A size or count is any number of 10 to 16 digits
    that no card network issues (one in a few hundred such numbers is a valid card: a card as
    a count is still a card, see tests/unit/test_detectors_numbers.py)."""
    kind = kind or draw(st.sampled_from(CLEAN_NUMBER_KINDS))
    rng = _rng(draw)
    key = draw(st.sampled_from(_CLEAN_NUMBER_KEYS))
    if kind == "metric_float":
        return rng.random() * draw(st.sampled_from((1, 1, 10, 1000))), key
    if kind == "metric_float_text":
        return f"{draw(st.sampled_from(('', 'acc=', 'loss: ', 'val ')))}{rng.random()!r}", key
    if kind == "size_or_count":
        for _ in range(100):
            number = int(10 ** rng.uniform(9, 16))
            if not is_card_number(str(number)):
                return number, key
        return 10**9, key
    if kind in ("epoch", "epoch_text"):
        seconds = rng.uniform(1_000_000_000, 2_100_000_000)
        scale = draw(st.sampled_from((1, 1000, 10**6, 10**9)))
        number = int(seconds * scale)
        return (number if kind == "epoch" else str(number)), key
    if kind == "integer_id":
        return rng.randint(1, 10**draw(st.sampled_from((4, 7, 9, 12)))), key
    if kind == "step":
        return rng.randint(0, 500_000), key
    if kind == "version":
        return draw(st.sampled_from((f"{rng.randint(0, 3)}.{rng.randint(0, 99)}.{rng.randint(0, 20)}",
                                     f"{rng.randint(2019, 2026)}.{rng.randint(1, 12)}.{rng.randint(1, 28)}",
                                     f"1.{rng.randint(0, 30)}.{rng.randint(0, 9)}+{rng.randint(10**7, 10**8)}",
                                     f"torch=={rng.randint(1, 2)}.{rng.randint(0, 9)}.{rng.randint(0, 3)}"))), key
    if kind == "date":
        y, m, d = rng.randint(2001, 2037), rng.randint(1, 12), rng.randint(1, 28)
        return draw(st.sampled_from((f"{y}-{m:02d}-{d:02d}", f"{y}{m:02d}{d:02d}", f"{d:02d}/{m:02d}/{y}"))), key
    if kind == "port":
        return draw(st.sampled_from((rng.randint(1024, 65535), f"localhost:{rng.randint(1024, 65535)}",
                                     f"0.0.0.0:{rng.randint(1024, 65535)}"))), key
    if kind == "digest":
        return rng.randbytes(draw(st.sampled_from((16, 20, 32)))).hex(), key
    if kind == "iso_timestamp":
        y, m, d = rng.randint(2001, 2037), rng.randint(1, 12), rng.randint(1, 28)
        return (f"{y}-{m:02d}-{d:02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
                f".{rng.randint(0, 999999):06d}{draw(st.sampled_from(('', 'Z', '+00:00', '+0100')))}"), key
    if kind == "duration":
        return round(rng.uniform(0, 10**5), draw(st.integers(0, 12))), key
    if kind == "float_list":
        return [rng.random() for _ in range(draw(st.integers(2, 12)))], key
    raise ValueError(kind)
