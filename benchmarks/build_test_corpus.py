"""Build tests/corpus/test/: the never-tuned test set (clean traffic, leaks, evasions).

    .venv/bin/python benchmarks/build_test_corpus.py     # rewrites the committed files

The development set (tests/corpus/labelled/, benchmarks/build_labelled_corpus.py) is what
detectors are built against; this set is what they are *measured* on. Do not read its cases
to tune a detector: that turns it into a second development set (tests/corpus/README.md).

It follows the same canary method: every case is a real captured request
(tests/corpus/captured_test/, new SDK scenarios: tabular and training pipelines, other
artifact-store roots, an API-key server) with a made-up sample planted at one SDK channel,
and its label says how it was made, never what a detector said:

    {"id", "kind": "clean" | "leak", "source", "class", "category", "sample", "place",
     "place_group": "body" | "query" | "header" | "path", "technique",
     "decision": "allow" | "redact" | "block",
     "findings": [{"category", "entity", "path"}, ...]}

- `class` is the issue's data class (person_name, postal_address, key_context, contact,
  prose, records, numbers, secret, blob); `findings` lists the findings that each count as
  caught (any one of them, at the labelled path or below it: a split value may be reported on
  one of its fragments); `decision` is `block`, or `redact` where the catalog classes the
  planted field as one the default policy redacts (a schema fact, not a detection).
- clean.jsonl: every test capture twice (and every development capture once), with UUIDs, hex digests, request ids, timestamps,
  ports and the artifact-store root regenerated at random (s3://, gs://, az://, /mnt/..., /srv/...),
  plus clean look-alikes (ML vocabulary, capitalised model and dataset names, an implicit-auth
  connector) in user fields. Expected: no finding, decision from the catalog's field classes.
- leaks.jsonl: the samples planted plainly, at every channel their type fits.
- evasions.jsonl: samples encoded, obfuscated or split (hex, 0x, base32, base85, ascii85,
  reversal, ROT13, character and digit lists, [at]/(at) and homoglyph @, latin-1 bytes,
  sibling splits, broken base64 ...).

All samples are made up: test card numbers, fictional 555 / Ofcom drama numbers, example
IBANs, invented names and addresses, invented keys. The random choices use a fixed seed, so
the output is deterministic (a unit test checks the committed files are current).
"""

from __future__ import annotations

import base64
import codecs
import copy
import gzip
import io
import json
import math
import pickle
import random
import re
import sys
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from build_labelled_corpus import REDACTED_CLASSES, clean_decision  # noqa: E402

CAPTURED_TEST = ROOT / "tests" / "corpus" / "captured_test"
DEV_CAPTURED = ROOT / "tests" / "corpus" / "captured"
DEV_CAPTURED_LEAK = "jane.doe@example.com"  # pii_pipeline's real leak: a dev-set case
TEST_SET = ROOT / "tests" / "corpus" / "test"
SEED = 20261204


# --- sample values ---------------------------------------------------------------------


class RawJSON(str):
    """A value written into the body as this JSON text verbatim (e.g. a float in e-notation)."""


@dataclass(frozen=True)
class Siblings:
    """Values merged into the parent object as sibling keys (a value split over fields)."""

    items: dict[str, Any]


@dataclass(frozen=True)
class Sample:
    name: str
    cls: str              # the data class
    category: str         # pii | secret | blob
    entity: str
    value: Any            # str, a JSON value, RawJSON or Siblings
    key: str = "ref"      # the field name a user would put it under
    also: tuple[tuple[str, str], ...] = ()   # other (category, entity) findings that count
    text_ok: bool = True  # a string form of a non-string value is realistic in a text field

    @property
    def text(self) -> str:
        if isinstance(self.value, str):
            return str(self.value)
        if isinstance(self.value, Siblings):
            return json.dumps(self.value.items)
        return json.dumps(self.value)

    def expected(self) -> list[tuple[str, str]]:
        return [(self.category, self.entity), *self.also]


def _records_rows(n: int) -> list[dict[str, Any]]:
    plans = ("basic", "plus", "family", "business")
    towns = ("Harrogate", "Wexford", "Tromsø", "Ghent", "Oamaru", "Bendigo")
    return [
        {
            "customer_id": 70410 + i * 13,
            "age": 23 + (i * 11) % 47,
            "town": towns[i % len(towns)],
            "plan": plans[i % len(plans)],
            "monthly_spend": round(18.5 + (i * 7.3) % 60, 2),
            "churned": i % 4 == 0,
        }
        for i in range(n)
    ]


def _orients(rows: list[dict[str, Any]]) -> dict[str, Any]:
    columns = list(rows[0])
    return {
        "records": rows,
        "columns": {c: {str(i): r[c] for i, r in enumerate(rows)} for c in columns},
        "index": {str(i): r for i, r in enumerate(rows)},
        "split": {"columns": columns, "index": list(range(len(rows))), "data": [[r[c] for c in columns] for r in rows]},
        "values": [[r[c] for c in columns] for r in rows],
        "table": {
            "schema": {"fields": [{"name": "index", "type": "integer"}] + [{"name": c, "type": "string"} for c in columns],
                       "primaryKey": ["index"], "pandas_version": "1.4.0"},
            "data": [{"index": i, **r} for i, r in enumerate(rows)],
        },
    }


_TABLE_EXPECT = (("blob", "RECORDS"), ("blob", "TABLE"), ("blob", "CSV_TABLE"), ("blob", "JSON_TABLE"))


def _embedding(n: int, phase: float) -> list[float]:
    return [round(math.cos(i * 0.29 + phase) * 0.73, 5) for i in range(n)]


_PROSE_ALSO = (("pii", "PERSON"), ("blob", "PROSE"), ("pii", "LOCATION"), ("blob", "FREE_TEXT"))

PROSE = (
    ("support_ticket",
     "Customer rang on Tuesday about the refund that never arrived. She explained that her husband "
     "Desmond Achterberg has been in Leeds General Infirmary since the car accident in March and she "
     "cannot manage the account alone; she asked us to pause the direct debit until he is home and "
     "to stop sending letters to the old flat. Agent apologised and promised a callback before Friday."),
    ("call_transcript",
     "AGENT: Thank you for holding, could I take your full name please? CALLER: Yes, it is Gwendolyn "
     "Ashcroft-Whyte. AGENT: And the first line of your address? CALLER: Nine Quarry Lane, just outside "
     "Keswick. AGENT: Thanks Gwendolyn. I can see the missed payments in June. CALLER: I was made "
     "redundant and my daughter is paying the rent for now, so I need a payment holiday."),
    ("clinical_note",
     "Patient is a 58 year old retired teacher referred by Dr Okafor for recurrent chest pain on "
     "exertion. History of type 2 diabetes and a minor stroke in 2019. Lives with his wife Maureen, "
     "who reports he has been more forgetful since the winter. Plan: stress echo, review statin dose, "
     "follow up in the cardiology clinic in six weeks."),
    ("complaint_email_body",
     "Dear team, I am writing again about my son Callum Fairweather, whose account was closed without "
     "warning last month. He is seventeen, autistic, and relies on that card for his bus fares to "
     "college. Nobody has explained why, and the branch on Market Street told us to phone instead. "
     "Please reopen it or tell us in writing what we did wrong. Regards, Fiona Fairweather"),
    ("labeler_feedback",
     "Annotator Siobhán Maguire flagged 41 of the 300 images in this batch because they show faces of "
     "children at the Ballina summer fair; she says the parents never agreed to this and she does not "
     "want her name on the export. Escalated to Rasmus Kjeldsen in the data protection office."),
)

_TICKET_SHORT = ("Refund escalation for Desmond Achterberg: wife called, he is in hospital since March, "
                 "pause the debit and call her back before Friday.")

_PEM_EC = ("-----BEGIN " + "EC PRIVATE KEY-----\nMHcCAQEEIBm3Lk7qQ0r9XbXv6vJzq8tN0pE2wL5aH1yR7cS4dF3uoAoGCCqGSM49\n"
           "AwEHoUQDQgAEq2Vt7pK1nXcW3zYb0aJ8fL6mE4rT9sQ2vU1wI5oP7yH3gD0kC8xN\n-----END " + "EC PRIVATE KEY-----")


def _pickle_bytes() -> bytes:
    return pickle.dumps({"coef": [0.125] * 48, "intercept": -0.5, "classes": [0, 1]}, protocol=4)


def _npy_bytes() -> bytes:
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (24,), }"
    header += " " * (118 - len(header)) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + bytes(range(40, 232))


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("archive/data.pkl", date_time=(2025, 6, 1, 0, 0, 0)), _pickle_bytes())
    return buffer.getvalue()


_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(range(1, 120)) + b"\xff\xd9"
_PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n" + bytes(range(128, 220)) + b"\n%%EOF\n"
_SAFETENSORS_HEADER = json.dumps({"w": {"dtype": "F32", "shape": [16], "data_offsets": [0, 64]}}).encode()
_SAFETENSORS = len(_SAFETENSORS_HEADER).to_bytes(8, "little") + _SAFETENSORS_HEADER + bytes(range(64))

_CARD = "4012888888881881"   # Visa test number

SAMPLES: tuple[Sample, ...] = (
    # person names, under the keys that carry the meaning, and bare
    Sample("name_patient", "person_name", "pii", "PERSON", "Marisol Okonkwo-Reyes", key="patient_name"),
    Sample("name_account_holder", "person_name", "pii", "PERSON", "Tobias Lindqvist", key="account_holder"),
    Sample("name_labeler", "person_name", "pii", "PERSON", "Priya Venkataraman", key="labeler"),
    Sample("name_reviewer_camel", "person_name", "pii", "PERSON", "Henrik Aalto", key="reviewerFullName"),
    Sample("name_customer_ref", "person_name", "pii", "PERSON", "Ngozi Adeyemi-Clarke", key="customer_ref"),
    Sample("name_beneficiary", "person_name", "pii", "PERSON", "Matteo Bianchi Ferraro", key="beneficiary"),
    Sample("name_with_title", "person_name", "pii", "PERSON", "Dr. Annelise Vandermeer", key="referring_physician"),
    Sample("name_surname_first", "person_name", "pii", "PERSON", "Kowalczyk, Zofia", key="contact_person"),
    # postal addresses
    Sample("address_us", "postal_address", "pii", "LOCATION", "4127 Juniper Hollow Rd, Bend, OR 97701",
           key="shipping_address", also=(("pii", "ADDRESS"), ("pii", "STREET_ADDRESS"))),
    Sample("address_uk", "postal_address", "pii", "LOCATION", "Flat 4, 18 Rosewood Close, Leeds LS6 2QT",
           key="home_address", also=(("pii", "ADDRESS"), ("pii", "STREET_ADDRESS"))),
    Sample("address_de", "postal_address", "pii", "LOCATION", "Lindenstraße 47, 04109 Leipzig",
           key="billingAddress", also=(("pii", "ADDRESS"), ("pii", "STREET_ADDRESS"))),
    Sample("address_multiline", "postal_address", "pii", "LOCATION", "Apt 12B\n905 Larkspur Avenue\nDuluth, MN 55803",
           key="mailing_address", also=(("pii", "ADDRESS"), ("pii", "STREET_ADDRESS"))),
    Sample("address_fr", "postal_address", "pii", "LOCATION", "27 rue des Tanneurs, 67000 Strasbourg",
           key="delivery_addr", also=(("pii", "ADDRESS"), ("pii", "STREET_ADDRESS"))),
    # identifiers whose shape alone is weak: the key carries the context
    Sample("ssn_bare_tax_id", "key_context", "pii", "US_SSN", "412735586", key="tax_id"),
    Sample("ssn_dashed_ssn", "key_context", "pii", "US_SSN", "523-41-8876", key="ssn"),
    Sample("ssn_spaced_camel", "key_context", "pii", "US_SSN", "601 28 4417", key="socialSecurityNumber"),
    Sample("msisdn_bare", "key_context", "pii", "PHONE_NUMBER", "447700900461", key="msisdn"),
    Sample("phone_bare_mobile", "key_context", "pii", "PHONE_NUMBER", "2065550173", key="mobile_no"),
    Sample("passport_us", "key_context", "pii", "US_PASSPORT", "548120937", key="passport_number"),
    Sample("dob_iso", "key_context", "pii", "DATE_OF_BIRTH", "1983-07-14", key="date_of_birth"),
    Sample("dob_dmy", "key_context", "pii", "DATE_OF_BIRTH", "14/07/1983", key="dob"),
    Sample("iban_lower", "key_context", "pii", "IBAN_CODE", "gb33bukb20201555555555", key="iban"),
    Sample("nhs_number", "key_context", "pii", "UK_NHS", "943 476 5919", key="nhs_number"),
    # contact data in new forms and values
    Sample("email_org", "contact", "pii", "EMAIL_ADDRESS", "marisol.reyes@example.org", key="owner"),
    Sample("email_internal", "contact", "pii", "EMAIL_ADDRESS", "t.lindqvist@risk.acme.internal", key="maintainer"),
    Sample("email_subaddress", "contact", "pii", "EMAIL_ADDRESS", "priya.v+labels@fabrikam.io", key="notify"),
    Sample("phone_uk", "contact", "pii", "PHONE_NUMBER", "+44 20 7946 0958", key="on_call"),
    Sample("phone_us_dots", "contact", "pii", "PHONE_NUMBER", "206.555.0117", key="callback"),
    Sample("card_amex", "contact", "pii", "CREDIT_CARD", "3782 822463 10005", key="payment"),
    Sample("card_discover", "contact", "pii", "CREDIT_CARD", "6011-1111-1111-1117", key="card"),
    Sample("iban_fr", "contact", "pii", "IBAN_CODE", "FR14 2004 1010 0505 0001 3M02 606", key="payout_account"),
    # free text
    *(Sample(f"prose_{name}", "prose", "pii", "PROSE", text, key=name, also=_PROSE_ALSO) for name, text in PROSE),
    # records / DataFrames as JSON
    *(Sample(f"records_{orient}", "records", "blob", "RECORDS", value, key="sample_rows", also=_TABLE_EXPECT)
      for orient, value in _orients(_records_rows(12)).items()),
    Sample("records_head_to_dict", "records", "blob", "RECORDS",
           {c: {str(i): r[c] for i, r in enumerate(_records_rows(5))} for c in _records_rows(1)[0]},
           key="df_head", also=_TABLE_EXPECT),
    Sample("records_to_json_string", "records", "blob", "RECORDS", json.dumps(_records_rows(10)),
           key="preview", also=_TABLE_EXPECT),
    Sample("records_with_names", "records", "blob", "RECORDS",
           [{"name": n, "segment": s, "balance": b} for n, s, b in (
               ("Ewa Nowicka", "gold", 1820.5), ("Tariq Haddad", "silver", 310.0), ("Lucía Paredes", "gold", 950.25),
               ("Jonas Weber", "bronze", 75.0), ("Amara Osei", "silver", 430.8))],
           key="top_customers", also=(*_TABLE_EXPECT, ("pii", "PERSON"))),
    # numbers as numbers
    Sample("card_as_int", "numbers", "pii", "CREDIT_CARD", int(_CARD), key="item_count", text_ok=False),
    Sample("card_as_float", "numbers", "pii", "CREDIT_CARD", RawJSON("4.012888888881881e15"), key="score", text_ok=False),
    Sample("card_digit_list", "numbers", "pii", "CREDIT_CARD", [int(d) for d in "5105105105105100"], key="digits",
           text_ok=False),
    Sample("card_newline_digits", "numbers", "pii", "CREDIT_CARD", "\n".join("4111111111111111"), key="checksum"),
    Sample("phone_as_int", "numbers", "pii", "PHONE_NUMBER", 14155550142, key="msisdn", text_ok=False),
    Sample("ssn_as_int", "numbers", "pii", "US_SSN", 412735586, key="ssn", text_ok=False),
    Sample("embedding_numeric_strings", "numbers", "blob", "NUMERIC_ARRAY", [f"{v:.5f}" for v in _embedding(128, 0.4)],
           key="query_vector", text_ok=False),
    Sample("embedding_split_siblings", "numbers", "blob", "NUMERIC_ARRAY",
           Siblings({f"emb_part_{k}": _embedding(128, 1.1)[k * 8:(k + 1) * 8] for k in range(16)}), key="emb",
           text_ok=False),
    Sample("embedding_scalar_metrics", "numbers", "blob", "NUMERIC_ARRAY",
           Siblings({f"dim_{k}": v for k, v in enumerate(_embedding(768, 2.3))}), key="dim", text_ok=False),
    Sample("embedding_index_dict", "numbers", "blob", "NUMERIC_ARRAY",
           {str(k): v for k, v in enumerate(_embedding(256, 0.9))}, key="activations", text_ok=False),
    Sample("embedding_one_key_records", "numbers", "blob", "NUMERIC_ARRAY",
           [{"v": v} for v in _embedding(160, 3.0)], key="trace", text_ok=False),
    # secrets not in the development set
    Sample("aws_key_id", "secret", "secret", "AWS_ACCESS_KEY", "AKIA" + "4HKW2NPQ7TX9ZL3M", key="aws_access_key_id"),
    Sample("github_classic", "secret", "secret", "GITHUB_TOKEN", "ghp_" + "Zx8Vq2Lm7Np4Rt6Ws9Yb" + "3Kd5Fh1Jg0Pc", key="gh"),
    Sample("slack_user_token", "secret", "secret", "SLACK_TOKEN", "xoxp-" + "7713920581-8834210957-3310864459" + "-9f2c7a1e5b3d8f6a4c0e2b7d9a1f3c5e", key="slack"),
    Sample("stripe_restricted", "secret", "secret", "STRIPE_KEY", "rk_live_" + "51Hx9QmT4bVz8LwN2pKc7RfYd", key="billing_key"),
    Sample("google_api_key", "secret", "secret", "GOOGLE_API_KEY", "AIza" + "SyD7v2Kq9Lm4Xp8Rt3Wn6Bc1Hf5Jz0Ue7Ga", key="maps_key"),
    Sample("sendgrid_key", "secret", "secret", "SENDGRID_KEY", "SG." + "q8Xz2Lm4Tn6Rv1Wb3Yc5Kd" + "." + "Hf7Jg9Pa2Ls4Nq6Vt8Xw0Zb1Cd3Ef5Gh7Ij9Kl0Mn", key="mailer"),
    Sample("npm_token", "secret", "secret", "NPM_TOKEN", "npm_" + "a8Kq3Zx7Lm2Nv9Rt4Wb6Yc1Hd5Jf0Pg3Se", key="registry_token"),
    Sample("anthropic_key", "secret", "secret", "ANTHROPIC_KEY", "sk-ant-" + "api03-" + "Qm7Xv2Lz9Kp4Rt8Wn3Bc6Hf1Jd5Yg0Ue-Ts2Aq7Lp9Mk4Nz6Vx1Wc3Rb8Fd-5HgIAA", key="llm_key"),
    Sample("databricks_token", "secret", "secret", "DATABRICKS_TOKEN", "dapi" + "7f3c9a1e5b2d8f6a4c0e2b7d9a1f3c5e", key="dbx"),
    Sample("pem_ec_key", "secret", "secret", "PRIVATE_KEY", _PEM_EC, key="signing_key"),
    Sample("mysql_dsn", "secret", "secret", "DATABASE_URL_PASSWORD", "mysql://etl_loader:" + "Tr0ub4dor-and-3" + "@10.20.8.14:3306/warehouse", key="dsn"),
    Sample("password_key_context", "secret", "secret", "PASSWORD", "v7#Lq9!pXz2@Wm4k", key="db_password"),
    Sample("basic_auth_value", "secret", "secret", "BASIC_AUTH", "Basic " + base64.b64encode(b"svc-ml:" + b"Qw3rty-2024-xZ").decode(), key="proxy_auth"),
    # blobs smuggled in ways the development set does not use
    Sample("pickle_junk_prefix_b64", "blob", "blob", "BLOB_PICKLE", base64.b64encode(b"\x00\x00JUNK" + _pickle_bytes()).decode(), key="state"),
    Sample("npy_base32", "blob", "blob", "BLOB_NPY", base64.b32encode(_npy_bytes()).decode(), key="array"),
    Sample("pickle_base85", "blob", "blob", "BLOB_PICKLE", base64.b85encode(_pickle_bytes()).decode(), key="model_state"),
    Sample("zip_b64_spaces", "blob", "blob", "BLOB_ZIP", " ".join(re.findall(".{1,12}", base64.b64encode(_zip_bytes()).decode())), key="bundle"),
    Sample("zip_hex_dump", "blob", "blob", "BLOB_ZIP", " ".join(f"{b:02x}" for b in _zip_bytes()[:300]), key="dump"),
    Sample("pickle_latin1", "blob", "blob", "BLOB_PICKLE", _pickle_bytes().decode("latin-1"), key="raw"),
    Sample("jpeg_b64_mime", "blob", "blob", "BLOB_JPEG", "\n".join(re.findall(".{1,76}", base64.b64encode(_JPEG).decode())), key="thumbnail"),
    Sample("pdf_b64", "blob", "blob", "BLOB_PDF", base64.b64encode(_PDF).decode(), key="report_pdf"),
    Sample("safetensors_b64", "blob", "blob", "BLOB_SAFETENSORS", base64.b64encode(_SAFETENSORS).decode(), key="weights"),
    Sample("gzip_b64url", "blob", "blob", "BLOB_GZIP", base64.urlsafe_b64encode(gzip.compress(_pickle_bytes(), mtime=0)).decode().rstrip("="), key="payload"),
)

BY_NAME = {s.name: s for s in SAMPLES}


# --- places (SDK channels) --------------------------------------------------------------------

# kind: "json"  the value replaces/sets the field (any JSON value; `{key}` in parts is the sample's key)
#       "text"  a string field: wrap(old, text) -> new string
#       "key"   the sample is an object key under the parts
#       "list"  appended to a list of strings
#       "query" / "header" / "path"  the request line and headers


@dataclass(frozen=True)
class Place:
    name: str
    method: str
    path_prefix: str
    parts: tuple[Any, ...]
    kind: str = "json"
    wrap: Callable[[Any, str], str] = lambda old, s: s
    source_hint: str = ""           # prefer captures whose file name contains this
    size: str = "small"             # "large": snapshot bodies, fewer cases
    needs_key: bool = False         # the field already exists in the captured body
    short: bool = False             # ZenML caps the field at 255 characters (STR_FIELD_MAX_LENGTH)
    numeric: bool = False           # an integer field: only numbers fit
    create: dict[str, Any] = field(default_factory=dict)   # parent objects made when absent

    @property
    def group(self) -> str:
        return self.kind if self.kind in ("query", "header", "path") else "body"


def _append(old: Any, s: str) -> str:
    return f"{old}/{s}" if old else s


_STEP0 = "<first step>"
_TRACEBACK = ('Traceback (most recent call last):\n  File "training_model_pipeline.py", line 61, in '
              'fit_logistic_regression\n    raise RuntimeError(message)\nRuntimeError: <message>\n')

PLACES: tuple[Place, ...] = (
    # run metadata (step, run and model-version metadata all go through POST /run-metadata)
    Place("run_metadata_value", "POST", "/api/v1/run-metadata", ("values", "{key}")),
    Place("run_metadata_nested", "POST", "/api/v1/run-metadata", ("values", "debug", "inputs", "{key}")),
    Place("run_metadata_list_item", "POST", "/api/v1/run-metadata", ("values", "annotations"), kind="list"),
    Place("run_metadata_key", "POST", "/api/v1/run-metadata", ("values", "agreement_by_annotator"), kind="key"),
    Place("run_metadata_prose", "POST", "/api/v1/run-metadata", ("values", "comment"), kind="text",
          wrap=lambda old, s: f"rows relabelled after review: {s}"),
    Place("model_version_metadata", "POST", "/api/v1/run-metadata", ("values", "evaluation", "{key}"),
          source_hint="training_model_pipeline"),
    # artifacts
    Place("artifact_metadata_value", "POST", "/api/v1/artifact_versions/batch", (0, "metadata", "{key}")),
    Place("artifact_metadata_key", "POST", "/api/v1/artifact_versions/batch", (0, "metadata"), kind="key"),
    Place("artifact_tag", "POST", "/api/v1/artifact_versions/batch", (0, "tags"), kind="list"),
    Place("artifact_name", "POST", "/api/v1/artifact_versions/batch", (0, "artifact_name"), kind="text",
          wrap=lambda old, s: f"{old}_{s}", short=True),
    Place("artifact_content_hash", "POST", "/api/v1/artifact_versions/batch", (0, "content_hash"), kind="text", short=True),
    Place("artifact_uri", "POST", "/api/v1/artifact_versions/batch", (0, "uri"), kind="text", wrap=_append),
    Place("artifact_visualization_uri", "POST", "/api/v1/artifact_versions/batch", (0, "visualizations", 0, "uri"),
          kind="text", wrap=lambda old, s: f"{old.rsplit('/', 1)[0]}/{s}/data.json", needs_key=True),
    Place("artifact_version_label", "POST", "/api/v1/artifact_versions/batch", (0, "version"), kind="text", short=True),
    Place("artifact_item_count", "POST", "/api/v1/artifact_versions/batch", (0, "item_count"), numeric=True),
    # the run's live event stream (zenml.streaming.publish)
    Place("stream_event_payload", "POST", "/api/v1/runs/", ("events", 0, "payload", "{key}")),
    Place("stream_event_correlation_id", "POST", "/api/v1/runs/", ("events", 0, "correlation_id"), kind="text",
          short=True),
    # pipeline runs
    Place("run_name", "POST", "/api/v1/runs", ("name",), kind="text", wrap=lambda old, s: f"retrain-{s}", short=True),
    Place("run_tag", "POST", "/api/v1/runs", ("tags",), kind="list"),
    Place("run_status_reason", "POST", "/api/v1/runs", ("status_reason",), kind="text",
          wrap=lambda old, s: f"queued on behalf of {s}", short=True),
    Place("run_orchestrator_environment", "POST", "/api/v1/runs", ("orchestrator_environment", "{key}"), kind="text"),
    Place("run_update_status_reason", "PUT", "/api/v1/runs/", ("status_reason",), kind="text",
          wrap=lambda old, s: f"stopped: {s}", short=True),
    # steps
    Place("step_cache_key", "POST", "/api/v1/steps", ("cache_key",), kind="text", short=True),
    Place("step_code_hash", "POST", "/api/v1/steps", ("code_hash",), kind="text", short=True),
    Place("step_docstring", "POST", "/api/v1/steps", ("docstring",), kind="text",
          wrap=lambda old, s: f"Loads the rows. Questions: {s}"),
    Place("step_source_code", "POST", "/api/v1/steps", ("source_code",), kind="text",
          wrap=lambda old, s: f"{old}\nREVIEWER = {json.dumps(s)}\n"),
    Place("step_exception_code_line", "PUT", "/api/v1/steps/", ("exception_info", "user_code_line"), numeric=True,
          create={"exception_info": {"traceback": _TRACEBACK, "source": None, "message": "row failed", "user_code_line": 61}}),
    Place("step_exception_message", "PUT", "/api/v1/steps/", ("exception_info", "message"), kind="text",
          wrap=lambda old, s: f"could not score row for {s}",
          create={"exception_info": {"traceback": _TRACEBACK, "source": None, "message": "", "user_code_line": 61}}),
    # snapshots (large bodies: fewer cases)
    Place("pipeline_parameter", "POST", "/api/v1/pipeline_snapshots", ("pipeline_configuration", "parameters", "{key}"),
          size="large"),
    Place("pipeline_spec_parameter", "POST", "/api/v1/pipeline_snapshots", ("pipeline_spec", "parameters", "{key}"),
          size="large"),
    Place("step_parameter", "POST", "/api/v1/pipeline_snapshots",
          ("step_configurations", _STEP0, "config", "parameters", "{key}"), size="large"),
    Place("pipeline_environment", "POST", "/api/v1/pipeline_snapshots", ("pipeline_configuration", "environment", "{KEY}"),
          kind="text", size="large"),
    Place("docker_settings_environment", "POST", "/api/v1/pipeline_snapshots",
          ("pipeline_configuration", "settings", "docker", "environment", "{KEY}"), kind="text", size="large",
          source_hint="training_model_pipeline"),
    Place("docker_requirement", "POST", "/api/v1/pipeline_snapshots",
          ("pipeline_configuration", "settings", "docker", "requirements"), kind="list", size="large",
          source_hint="training_model_pipeline"),
    Place("pipeline_extra", "POST", "/api/v1/pipeline_snapshots", ("pipeline_configuration", "extra", "{key}"),
          size="large", source_hint="training_model_pipeline"),
    Place("run_name_template", "POST", "/api/v1/pipeline_snapshots", ("run_name_template",), kind="text",
          wrap=lambda old, s: f"{old}-{s}", size="large", short=True),
    Place("model_description", "POST", "/api/v1/pipeline_snapshots", ("pipeline_configuration", "model", "description"),
          kind="text", wrap=lambda old, s: f"{old} Owner: {s}", size="large", source_hint="training_model_pipeline",
          needs_key=True),
    Place("model_limitations", "POST", "/api/v1/pipeline_snapshots", ("pipeline_configuration", "model", "limitations"),
          kind="text", wrap=lambda old, s: f"{old} Escalate to {s}.", size="large",
          source_hint="training_model_pipeline", needs_key=True),
    Place("pipeline_version_hash", "POST", "/api/v1/pipeline_snapshots", ("pipeline_version_hash",), kind="text",
          size="large", short=True),
    Place("snapshot_pipeline_tag", "POST", "/api/v1/pipeline_snapshots", ("pipeline_configuration", "tags"),
          kind="list", size="large"),
    # pipelines, stacks, components, logs
    Place("pipeline_description", "POST", "/api/v1/pipelines", ("description",), kind="text",
          wrap=lambda old, s: f"maintained by {s}"),
    Place("component_path", "POST", "/api/v1/components", ("configuration", "path"), kind="text", wrap=_append),
    Place("component_labels", "POST", "/api/v1/components", ("labels", "{key}"), kind="text"),
    Place("stack_description", "POST", "/api/v1/stacks", ("description",), kind="text",
          wrap=lambda old, s: f"stack for {s}", short=True),
    Place("stack_labels", "POST", "/api/v1/stacks", ("labels", "{key}"), kind="text"),
    Place("log_uri", "POST", "/api/v1/logs", ("uri",), kind="text",
          wrap=lambda old, s: f"{old.rsplit('/', 1)[0]}/{s}.log", needs_key=True),
    # service connectors (synthetic request, shaped as ServiceConnectorRequest)
    Place("connector_configuration", "POST", "/api/v1/service_connectors", ("configuration", "{key}"), kind="text"),
    Place("connector_description", "POST", "/api/v1/service_connectors", ("description",), kind="text",
          wrap=lambda old, s: f"read-only access, ask {s}"),
    Place("connector_labels", "POST", "/api/v1/service_connectors", ("labels", "{key}"), kind="text"),
    # query filters
    Place("query_pipeline_name", "GET", "/api/v1/pipelines", ("name",), kind="query"),
    Place("query_step_cache_key", "GET", "/api/v1/steps", ("cache_key",), kind="query"),
    Place("query_component_name", "GET", "/api/v1/components", ("name",), kind="query",
          wrap=lambda old, s: f"equals:{s}"),
    Place("query_pipelines_user", "GET", "/api/v1/pipelines", ("user",), kind="query"),
    Place("query_stacks_contains", "GET", "/api/v1/stacks", ("name",), kind="query",
          wrap=lambda old, s: f"contains:{s}"),
    # headers the SDK sends, and ones a user's own client adds
    Place("header_x_request_id", "POST", "/api/v1/pipelines", ("X-Request-ID",), kind="header"),
    Place("header_idempotency_key", "POST", "/api/v1/pipelines", ("Idempotency-Key",), kind="header"),
    Place("header_x_correlation_id", "POST", "/api/v1/run-metadata", ("X-Correlation-ID",), kind="header"),
    Place("header_x_customer", "GET", "/api/v1/stacks", ("X-Customer",), kind="header"),
    Place("header_baggage", "POST", "/api/v1/run-metadata", ("baggage",), kind="header",
          wrap=lambda old, s: f"user.ref={s}"),
    Place("header_x_upstream_authorization", "GET", "/api/v1/info", ("X-Upstream-Authorization",), kind="header"),
    Place("header_forwarded", "GET", "/api/v1/current-user", ("Forwarded",), kind="header",
          wrap=lambda old, s: f'for="{s}";proto=https'),
    Place("header_user_agent", "GET", "/api/v1/info", ("User-Agent",), kind="header",
          wrap=lambda old, s: f"{old} (contact {s})"),
    # path parameters
    Place("path_model_name", "GET", "/api/v1/models/{model_name_or_id}/model_versions", ("model_name_or_id",),
          kind="path"),
    Place("path_user_name", "GET", "/api/v1/users/{user_name_or_id}", ("user_name_or_id",), kind="path"),
    Place("path_project_name", "GET", "/api/v1/projects/{project_name_or_id}", ("project_name_or_id",), kind="path"),
)

PLACES_BY_NAME = {p.name: p for p in PLACES}
SHORT_TEXT = 190  # leaves room for the words a place wraps around a sample within 255
TEXT_KINDS = ("text", "list", "key", "query", "header", "path")


def fits(sample: Sample, place: Place) -> bool:
    """Whether a user could plausibly put this sample at this place."""
    keyed = any(part in ("{key}", "{KEY}") for part in place.parts)
    if place.numeric:
        return type(sample.value) is int
    structured = isinstance(sample.value, RawJSON) or not isinstance(sample.value, str)
    if isinstance(sample.value, Siblings):
        return place.kind == "json" and place.parts[-1] == "{key}"
    if sample.cls == "key_context":
        return keyed and (place.kind == "json" or not structured)
    if place.short and len(sample.text) > SHORT_TEXT:  # the server refuses longer values
        return False
    if structured and place.kind != "json":
        return sample.text_ok and place.kind == "text" and len(sample.text) < 4000
    if place.kind in ("key", "query", "header", "path", "list"):
        # short, single-line values only: a key, a filter, a header, a tag, a path segment
        return "\n" not in sample.text and len(sample.text) <= SHORT_TEXT
    return True


# --- captures ---------------------------------------------------------------------------------


def captured() -> list[tuple[str, int, dict[str, Any]]]:
    out = []
    for path in sorted(CAPTURED_TEST.glob("*.jsonl")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if line.strip():
                out.append((path.name, number, json.loads(line)))
    if not out:
        raise SystemExit(f"no captures in {CAPTURED_TEST}: run benchmarks/capture_corpus.py --test-set")
    return out


def _connector_record(template: dict[str, Any], configuration: dict[str, Any]) -> dict[str, Any]:
    """A ServiceConnectorRequest as `zenml service-connector register` sends it (AWS, implicit)."""
    body = {
        "name": "aws-eu-readonly", "connector_type": "aws", "description": "", "auth_method": "implicit",
        "resource_types": ["s3-bucket"], "resource_id": None, "supports_instances": False, "expires_at": None,
        "expires_skew_tolerance": None, "expiration_seconds": None, "configuration": configuration,
        "labels": {},
    }
    headers = {k: v for k, v in template["headers"].items() if k.lower() not in ("content-length", "idempotency-key")}
    return {"method": "POST", "path": "/api/v1/service_connectors", "query": [], "headers": headers,
            "body_text": json.dumps(body), "response_status": None}


def _first_post(records: list[tuple[str, int, dict[str, Any]]], path: str) -> dict[str, Any]:
    return next(r for _, _, r in records if r["method"] == "POST" and r["path"] == path)


def _path_record(template: dict[str, Any], place: Place) -> dict[str, Any]:
    record = copy.deepcopy(template)
    record["path"] = place.path_prefix
    record["query"] = [["hydrate", "False"]]
    return record


def _body_fits(record: dict[str, Any], place: Place) -> bool:
    if record["method"] != place.method:
        return False
    # a prefix ending in "/" takes an id after it; any other is the whole route
    if not (record["path"].startswith(place.path_prefix) if place.path_prefix.endswith("/")
            else record["path"] == place.path_prefix):
        return False
    if place.kind == "query":
        return True
    if place.kind == "header":
        return True
    if not record.get("body_text"):
        return False
    body = json.loads(record["body_text"])
    node = body
    for part in place.parts[:-1]:
        if part == _STEP0:
            part = next(iter(node))
        if isinstance(part, int):
            if not isinstance(node, list) or len(node) <= part:
                return False
            node = node[part]
        elif isinstance(node, dict):
            if node.get(part) is None and not (part in place.create or not place.needs_key):
                return False
            node = node.get(part) or {}
        else:
            return False
    if place.needs_key and (not isinstance(node, dict) or not node.get(place.parts[-1])):
        return False
    return isinstance(node, (dict, list))


def base_record(place: Place, records: list[tuple[str, int, dict[str, Any]]]) -> tuple[str, dict[str, Any]]:
    if place.path_prefix == "/api/v1/service_connectors":
        return "synthetic:service_connector", _connector_record(
            _first_post(records, "/api/v1/pipelines"), {"region": "eu-west-1"})
    if place.kind == "path":
        template = next(r for _, _, r in records if r["method"] == "GET" and r["path"] == "/api/v1/info")
        return "synthetic:path", _path_record(template, place)
    candidates = [(s, n, r) for s, n, r in records if _body_fits(r, place)]
    preferred = [c for c in candidates if place.source_hint and place.source_hint in c[0]]
    chosen = (preferred or candidates or [None])[0]
    if chosen is None:
        raise SystemExit(f"no captured request fits place {place.name}: re-capture the test set")
    source, number, record = chosen
    return f"{source}:{number}", record


# --- planting ---------------------------------------------------------------------------------


_RAW_MARK = "\u0000raw{}\u0000"


def _dumps(body: Any, raws: list[str]) -> str:
    text = json.dumps(body, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: a client can only send it as a JSON escape
        text = json.dumps(body)
    for index, raw in enumerate(raws):
        text = text.replace(json.dumps(_RAW_MARK.format(index)), raw)
    return text


def _key_for(sample: Sample, part: str) -> str:
    return sample.key.upper() if part == "{KEY}" else sample.key


def plant(record: dict[str, Any], place: Place, sample: Sample, value: Any) -> tuple[dict[str, Any], str]:
    """The record with `value` (the sample, maybe encoded) at `place`; and the labelled path."""
    from metagate.scanner import jsonpath

    record = copy.deepcopy(record)
    text = value if isinstance(value, str) else json.dumps(value.items if isinstance(value, Siblings) else value)
    if place.kind == "query":
        name = place.parts[0]
        new = place.wrap(None, text)
        query = [[k, v] for k, v in record.get("query") or [] if k != name]
        record["query"] = [*query, [name, new]]
        return record, jsonpath.render((name,), root="$query")
    if place.kind == "header":
        name = place.parts[0]
        headers = dict(record["headers"])
        old = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
        headers = {k: v for k, v in headers.items() if k.lower() != name.lower()}
        headers[name] = place.wrap(old, text)
        record["headers"] = headers
        return record, jsonpath.render((name.lower(),), root="$headers")
    if place.kind == "path":
        param = place.parts[0]
        record["path"] = place.path_prefix.replace("{" + param + "}", _path_segment(text))
        return record, jsonpath.render((param,), root="$path")

    body = json.loads(record["body_text"])
    raws: list[str] = []
    node = body
    parts: list[Any] = []
    for part in place.parts[:-1]:
        if part == _STEP0:
            part = next(iter(node))
        elif part in ("{key}", "{KEY}"):
            part = _key_for(sample, part)
        if isinstance(node, dict) and node.get(part) is None:
            node[part] = copy.deepcopy(place.create.get(part, {}))
        node = node[part]
        parts.append(part)
    last = place.parts[-1]
    if last in ("{key}", "{KEY}"):
        last = _key_for(sample, last)

    if isinstance(value, Siblings):
        node.update(value.items)
        label_path = jsonpath.render(tuple(parts))
        _declare_types(body, place, value.items)
    elif place.kind == "key":
        node[last] = node.get(last) or {}
        node[last][text] = 0.91
        label_path = jsonpath.render((*parts, last, text))
        _declare_types(body, place, {last: node[last]})
    elif place.kind == "list":
        node[last] = list(node.get(last) or [])
        node[last].append(text)
        label_path = jsonpath.render((*parts, last, len(node[last]) - 1))
    else:
        old = node.get(last) if isinstance(node, dict) else node[last]
        if place.kind == "text":
            new: Any = place.wrap(old or "", text)
        elif isinstance(value, RawJSON):
            raws.append(str(value))
            new = _RAW_MARK.format(len(raws) - 1)
        else:
            new = value
        node[last] = new
        label_path = jsonpath.render((*parts, last))
        _declare_types(body, place, {last: new})
    record["body_text"] = _dumps(body, raws)
    return record, label_path


def _declare_types(body: Any, place: Place, values: dict[str, Any]) -> None:
    """Run metadata declares a type for every top-level value, as log_metadata does."""
    if place.path_prefix != "/api/v1/run-metadata" or not isinstance(body, dict):
        return
    types = body.setdefault("types", {})
    for key, val in body.get("values", {}).items():
        if key not in types:
            types[key] = ("float" if isinstance(val, str) and val.startswith(_RAW_MARK[:4])  # a RawJSON number
                          else "str" if isinstance(val, str) else "bool" if isinstance(val, bool)
                          else "int" if isinstance(val, int) else "float" if isinstance(val, float)
                          else "list" if isinstance(val, list) else "dict")


def _path_segment(text: str) -> str:
    import urllib.parse

    return urllib.parse.quote(text, safe="")


# --- evasions -----------------------------------------------------------------------------


def _rot13(s: str) -> str:
    return codecs.encode(s, "rot13")


def _at_brackets(s: str) -> str:
    return s.replace("@", " [at] ").replace(".", " [dot] ")


def _at_words(s: str) -> str:
    local, _, domain = s.partition("@")
    return f"{local.replace('.', ' dot ')} at {domain.replace('.', ' dot ')}"


def _split(s: str, n: int, prefix: str = "part_") -> Siblings:
    size = max(1, math.ceil(len(s) / n))
    return Siblings({f"{prefix}{i}": s[i * size:(i + 1) * size] for i in range(math.ceil(len(s) / size))})


def _card_fields(s: str) -> Siblings:
    digits = re.sub(r"\D", "", s)
    return Siblings({"card_bin": digits[:6], "card_mid": digits[6:-4], "card_last4": digits[-4:]})


@dataclass(frozen=True)
class Technique:
    name: str
    encode: Callable[[str], Any]
    applies: Callable[[Sample], bool] = lambda s: True
    json_only: bool = False   # the encoded value is a JSON structure, not a string


def _is_email(s: Sample) -> bool:
    return s.entity == "EMAIL_ADDRESS"


def _is_digits(s: Sample) -> bool:
    return s.entity in ("CREDIT_CARD", "US_SSN", "PHONE_NUMBER")


def _is_textual(s: Sample) -> bool:
    return s.category in ("pii", "secret") and isinstance(s.value, str) and len(s.value) < 400


TECHNIQUES: tuple[Technique, ...] = (
    Technique("hex", lambda s: s.encode().hex(), _is_textual),
    Technique("hex_upper", lambda s: s.encode().hex().upper(), _is_textual),
    Technique("hex_0x_tokens", lambda s: " ".join(f"0x{b:02x}" for b in s.encode()), _is_textual),
    Technique("base32", lambda s: base64.b32encode(s.encode()).decode(), _is_textual),
    Technique("base32_unpadded_lower", lambda s: base64.b32encode(s.encode()).decode().rstrip("=").lower(), _is_textual),
    Technique("base85", lambda s: base64.b85encode(s.encode()).decode(), _is_textual),
    Technique("ascii85", lambda s: base64.a85encode(s.encode()).decode(), _is_textual),
    Technique("ascii85_adobe", lambda s: base64.a85encode(s.encode(), adobe=True).decode(), _is_textual),
    Technique("base64url_unpadded", lambda s: base64.urlsafe_b64encode(s.encode()).decode().rstrip("="), _is_textual),
    Technique("base64_spaced", lambda s: " ".join(re.findall(".{1,4}", base64.b64encode(s.encode()).decode())), _is_textual),
    Technique("reversed", lambda s: s[::-1], _is_textual),
    Technique("rot13", _rot13, lambda s: _is_textual(s) and any(c.isalpha() for c in s.value)),
    Technique("base64_of_reversed", lambda s: base64.b64encode(s[::-1].encode()).decode(), _is_textual),
    Technique("hex_of_base64", lambda s: base64.b64encode(s.encode()).hex(), _is_textual),
    Technique("char_list", lambda s: list(s), _is_textual, json_only=True),
    Technique("byte_int_list", lambda s: list(s.encode()), lambda s: s.category == "secret" and _is_textual(s),
              json_only=True),
    Technique("split_siblings", lambda s: _split(s, 6), _is_textual, json_only=True),
    Technique("split_many_short", lambda s: _split(s, max(2, len(s) // 3), "frag_"), _is_textual, json_only=True),
    Technique("at_brackets", _at_brackets, _is_email),
    Technique("at_parens_upper", lambda s: s.replace("@", " (AT) ").replace(".", " (DOT) "), _is_email),
    Technique("at_words", _at_words, _is_email),
    Technique("homoglyph_at", lambda s: s.replace("@", "\ufe6b"), _is_email),
    Technique("fullwidth_at", lambda s: s.replace("@", "\uff20"), _is_email),
    Technique("digits_spaced_pairs", lambda s: "  ".join(re.findall("..?", re.sub(r"\D", "", s))), _is_digits),
    Technique("digits_slashes", lambda s: "/".join(re.findall(".{1,4}", re.sub(r"\D", "", s))), _is_digits),
    Technique("digits_underscores", lambda s: "_".join(re.findall(".{1,4}", re.sub(r"\D", "", s))), _is_digits),
    Technique("digits_pipes", lambda s: "|".join(re.findall(".{1,4}", re.sub(r"\D", "", s))), _is_digits),
    Technique("digits_glued_to_word", lambda s: "ref" + re.sub(r"\D", "", s) + "x", _is_digits),
    Technique("digits_as_version", lambda s: ".".join(re.findall(".{1,4}", re.sub(r"\D", "", s))), _is_digits),
    Technique("digits_after_pin", lambda s: "==" + re.sub(r"\D", "", s), _is_digits),
    Technique("digit_list", lambda s: [int(d) for d in re.sub(r"\D", "", s)], _is_digits, json_only=True),
    Technique("digit_newlines", lambda s: "\n".join(re.sub(r"\D", "", s)), _is_digits),
    Technique("card_split_fields", _card_fields, lambda s: s.entity == "CREDIT_CARD", json_only=True),
    Technique("lone_surrogate_before_at", lambda s: s.replace("@", "\udc80@"), _is_email),
    Technique("latin1_bytes", lambda s: s, lambda s: s.name == "pickle_latin1"),
)

MAIN_PLACES = ("run_metadata_value", "artifact_metadata_value", "step_exception_message")
SMALL_PER_SAMPLE = 7
LARGE_PER_SAMPLE = 1

EVASION_SAMPLES = (
    "email_org", "email_subaddress", "card_amex", "card_discover", "ssn_dashed_ssn", "phone_uk", "iban_fr",
    "name_patient", "address_uk", "aws_key_id", "github_classic", "stripe_restricted", "mysql_dsn",
)
# (string places, JSON places) used for evasions, rotated over the samples
EVASION_TEXT_PLACES = ("run_metadata_prose", "step_exception_message", "run_tag", "query_pipeline_name",
                       "artifact_tag", "pipeline_description")
EVASION_JSON_PLACES = ("run_metadata_value", "artifact_metadata_value", "model_version_metadata")

# Blob variants: the same payloads through extra carriers.
BLOB_EVASIONS = (
    ("npy_base32_lower_unpadded", "BLOB_NPY", lambda: base64.b32encode(_npy_bytes()).decode().rstrip("=").lower()),
    ("pickle_ascii85", "BLOB_PICKLE", lambda: base64.a85encode(_pickle_bytes()).decode()),
    ("pickle_hex_upper_junk", "BLOB_PICKLE", lambda: ("00ff" * 6 + _pickle_bytes().hex()).upper()),
    ("pickle_b64_newlines_junk", "BLOB_PICKLE",
     lambda: "\n".join(re.findall(".{1,60}", base64.b64encode(b"hdr:" + _pickle_bytes()).decode()))),
    ("npy_latin1", "BLOB_NPY", lambda: _npy_bytes().decode("latin-1")),
    ("zip_latin1", "BLOB_ZIP", lambda: _zip_bytes().decode("latin-1")),
    ("zip_hex_0x", "BLOB_ZIP", lambda: " ".join(f"0x{b:02x}" for b in _zip_bytes()[:256])),
    ("pickle_byte_list", "BLOB_PICKLE", lambda: list(_pickle_bytes()[:400])),
    ("jpeg_b64_split_siblings", "BLOB_JPEG", lambda: _split(base64.b64encode(_JPEG).decode(), 8, "chunk_")),
)


# --- clean traffic ------------------------------------------------------------------------------

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HEX_RUN = re.compile(r"(?<![0-9a-zA-Z])[0-9a-f]{8,64}(?![0-9a-zA-Z])")
_ISO = re.compile(r"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?")
_RUN_STAMP = re.compile(r"20\d\d_\d\d_\d\d-\d\d_\d\d_\d\d_\d{6}")
_CAPTURE_ROOT = re.compile(r"/tmp/metagate-capture-[a-z0-9_]+")
_HOST = re.compile(r"127\.0\.0\.1:\d+")

ROOTS = (
    "s3://acme-ml-artifacts/zenml", "gs://ml-platform-prod-artifacts/zenml-store", "/mnt/data/zenml",
    "/srv/mlops/zenml-store", "az://mlartifacts/zenml", "/var/lib/zenml/artifacts",
    "s3://team-risk-ml/stores/prod-eu", "/mnt/nfs/shared/ml/zenml-artifacts", "gs://zenml-7f3a9c/artifact_store",
    "/home/runner/work/ml/.zenml/local_stores",
)


class Regenerator:
    """Consistent random replacement of ids, digests, timestamps and the artifact root in one capture."""

    def __init__(self, rng: random.Random, root: str) -> None:
        self.rng, self.root = rng, root
        self.ids: dict[str, str] = {}
        self.shift = rng.randint(-400, 400) * 86400 + rng.randint(0, 86399)
        self.port = str(rng.randint(20000, 60000))

    def _id(self, old: str) -> str:
        if old not in self.ids:
            if _UUID.fullmatch(old):
                self.ids[old] = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
            else:
                self.ids[old] = "".join(self.rng.choice("0123456789abcdef") for _ in old)
        return self.ids[old]

    def _time(self, match: re.Match[str]) -> str:
        import datetime

        text = match.group(0)
        fmt = "%Y-%m-%dT%H:%M:%S.%f" if "." in text else "%Y-%m-%dT%H:%M:%S"
        moved = datetime.datetime.strptime(text, fmt) + datetime.timedelta(seconds=self.shift)
        return moved.strftime(fmt)

    def _stamp(self, match: re.Match[str]) -> str:
        import datetime

        moved = datetime.datetime.strptime(match.group(0), "%Y_%m_%d-%H_%M_%S_%f") + datetime.timedelta(seconds=self.shift)
        return moved.strftime("%Y_%m_%d-%H_%M_%S_%f")

    def text(self, text: str) -> str:
        text = _CAPTURE_ROOT.sub(self.root, text)
        text = _UUID.sub(lambda m: self._id(m.group(0)), text)
        text = _HEX_RUN.sub(lambda m: self._id(m.group(0)) if any(c.isalpha() for c in m.group(0)) else m.group(0), text)
        text = _ISO.sub(self._time, text)
        text = _RUN_STAMP.sub(self._stamp, text)
        return _HOST.sub(f"127.0.0.1:{self.port}", text)

    def record(self, record: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(record)
        out["path"] = self.text(record["path"])
        out["query"] = [[k, self.text(v)] for k, v in record.get("query") or []]
        out["headers"] = {k: self.text(v) for k, v in record["headers"].items()}
        if record.get("body_text"):
            out["body_text"] = self.text(record["body_text"])
            if record["body_text"].startswith(("{", "[")):
                try:  # the root may sit in JSON strings: keep the body valid JSON
                    json.loads(out["body_text"])
                except ValueError:
                    out["body_text"] = record["body_text"]
        return out


# Clean look-alikes: values a user fills with ML vocabulary, capitalised names of models,
# datasets, libraries and places, ids and hashes: no personal data, no secret, no blob.
CLEAN_LOOKALIKES: tuple[tuple[str, str, Any], ...] = (
    ("run_metadata_value", "optimizer", "AdamW"),
    ("run_metadata_value", "base_model", "Meta Llama 3 8B Instruct"),
    ("run_metadata_value", "dataset", "Stanford Cars"),
    ("run_metadata_value", "framework", "PyTorch Lightning"),
    ("run_metadata_value", "region", "eu-west-1"),
    ("run_metadata_value", "team", "Risk ML"),
    ("run_metadata_value", "labeler", "team-annotation-3"),
    ("run_metadata_value", "confusion_matrix", [[412, 17], [23, 301]]),
    ("run_metadata_value", "per_epoch_loss", [0.91, 0.62, 0.48, 0.41, 0.37, 0.35, 0.34, 0.33]),
    ("run_metadata_value", "class_names", ["cat", "dog", "horse", "sheep"]),
    ("run_metadata_value", "git_sha", "9fceb02d0ae598e95dc970b74767f19372d61af8"),
    ("run_metadata_value", "dataset_version", "2024.06.1"),
    ("run_metadata_value", "num_samples", 48213),
    ("run_metadata_value", "wandb_run", "https://wandb.ai/risk-ml/fraud/runs/3k9x2lq1"),
    ("run_metadata_nested", "split", {"train": 0.8, "val": 0.1, "test": 0.1}),
    ("run_metadata_prose", "comment", "Baseline beats last week's model on recall; precision is flat."),
    ("artifact_metadata_value", "source", "Kaggle Titanic (public)"),
    ("artifact_metadata_value", "columns", ["Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked"]),
    ("model_description", None, "Trained on the Adult Census Income dataset from UC Irvine."),
    ("pipeline_description", None, "Nightly retraining of the New York taxi fare model (XGBoost)."),
    ("run_tag", None, "Stable Diffusion XL"),
    ("run_tag", None, "sprint-42"),
    ("step_parameter", "model_name", "bert-base-uncased"),
    ("pipeline_parameter", "city", "San Francisco"),
    ("pipeline_environment", "HF_HOME", "/mnt/cache/huggingface"),
    ("docker_settings_environment", "AWS_DEFAULT_REGION", "us-east-2"),
    ("docker_requirement", None, "torch==2.3.1+cu121"),
    ("pipeline_extra", "owner_team", "Payments Data Science"),
    ("step_exception_message", None, "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 15.78 GiB total)"),
    ("query_pipeline_name", None, "Churn Model Training"),
    ("connector_configuration", "region", "eu-central-1"),
)


# --- building ------------------------------------------------------------------------------------


def _label(case_id: str, kind: str, source: str, sample: Sample | None, place: Place | None, technique: str | None,
           decision: str, path: str | None, expected: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    return {
        "id": case_id, "kind": kind, "source": source,
        "class": sample.cls if sample else None, "category": sample.category if sample else None,
        "sample": sample.name if sample else None, "place": place.name if place else None,
        "place_group": place.group if place else None, "technique": technique, "decision": decision,
        "findings": [{"category": c, "entity": e, "path": path} for c, e in (expected or [])],
    }


def _case(record: dict[str, Any], label: dict[str, Any]) -> dict[str, Any]:
    case = {k: record[k] for k in ("method", "path", "query", "headers", "body_text")}
    case["label"] = label
    return case


def planted_decision(record: dict[str, Any], path: str, scanner: Any) -> str:
    """`redact` when the catalog classes the planted field as one the default policy redacts."""
    from metagate.scanner.capture import request_from_record

    if not path.startswith("$."):
        return "block"
    for leaf in scanner.scan(request_from_record(record)).leaves:
        if leaf.is_key or not (leaf.path == path or path.startswith(leaf.path + ".") or path.startswith(leaf.path + "[")
                               or leaf.path.startswith(path)):
            continue
        if leaf.field_class in REDACTED_CLASSES or (leaf.field_class == "log" and leaf.path.endswith(".traceback")):
            return "redact"
    return "block"


def build() -> dict[str, list[dict[str, Any]]]:
    from metagate.scanner.catalog import Catalog
    from metagate.scanner.pipeline import Scanner
    from metagate.scanner.schemas import SchemaSet

    catalog = Catalog.load()
    bare = Scanner(catalog, SchemaSet(catalog), [], [], b"\x00" * 32, remember_clean=False)
    rng = random.Random(SEED)
    records = captured()
    bases = {p.name: base_record(p, records) for p in PLACES}

    def leak_case(case_id: str, place: Place, sample: Sample, value: Any, technique: str) -> dict[str, Any]:
        source, record = bases[place.name]
        planted, path = plant(record, place, sample, value)
        return _case(planted, _label(case_id, "leak", source, sample, place, technique,
                                     planted_decision(planted, path, bare), path, sample.expected()))

    # clean: every capture twice, regenerated, plus clean look-alikes in user fields
    clean: list[dict[str, Any]] = []
    by_file: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for source, number, record in records:
        by_file.setdefault(source, []).append((number, record))
    root_cycle = iter(rng.sample(ROOTS, len(ROOTS)) * 3)
    for source, numbered in by_file.items():
        for variant in (1, 2):
            regen = Regenerator(rng, next(root_cycle))
            for number, record in numbered:
                fresh = regen.record(record)
                stem = source.removesuffix(".jsonl")
                clean.append(_case(fresh, _label(f"clean-{stem}-v{variant}-{number}", "clean",
                                                 f"{source}:{number} (regenerated, root {regen.root})",
                                                 None, None, "regenerated", clean_decision(fresh, bare), None)))
    # the development scenarios too, once each under a fresh root: their ids and paths are new
    # data, so a false block that depends on them shows here (the planted e-mail stays out)
    for path in sorted(DEV_CAPTURED.glob("*.jsonl")):
        regen = Regenerator(rng, next(root_cycle))
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip() or DEV_CAPTURED_LEAK in line:
                continue
            fresh = regen.record(json.loads(line))
            clean.append(_case(fresh, _label(f"clean-dev-{path.stem}-{number}", "clean",
                                             f"captured/{path.name}:{number} (regenerated, root {regen.root})",
                                             None, None, "regenerated_dev_capture", clean_decision(fresh, bare), None)))
    for index, (place_name, key, value) in enumerate(CLEAN_LOOKALIKES):
        place = PLACES_BY_NAME[place_name]
        source, record = bases[place.name]
        lookalike = Sample(f"lookalike_{index}", "clean", "none", "none", value, key=key or "ref")
        planted, _ = plant(record, place, lookalike, value if place.kind == "json" else lookalike.text)
        clean.append(_case(planted, _label(f"clean-lookalike-{place.name}-{index}", "clean", source, None, place,
                                           "lookalike", clean_decision(planted, bare), None)))
    connector_source, connector = bases["connector_configuration"]
    clean.append(_case(connector, _label("clean-connector-aws-implicit-region", "clean", connector_source, None,
                                         PLACES_BY_NAME["connector_configuration"], "lookalike",
                                         clean_decision(connector, bare), None)))

    # leaks: each sample at the main channels it fits, at SMALL_PER_SAMPLE other small places
    # and LARGE_PER_SAMPLE snapshot places, rotating so that every place gets cases
    leaks: list[dict[str, Any]] = []
    small_turn = large_turn = 0
    for sample_index, sample in enumerate(SAMPLES):
        fitting = [p for p in PLACES if fits(sample, p)]
        main = [p for p in fitting if p.name in MAIN_PLACES]
        small = [p for p in fitting if p.size == "small" and p not in main]
        large = [p for p in fitting if p.size == "large"]
        chosen = main + [small[(small_turn + k) % len(small)] for k in range(min(SMALL_PER_SAMPLE, len(small)))]
        small_turn += SMALL_PER_SAMPLE
        if large and sample_index % 2 == 0:  # snapshot bodies are ~20 KB: every other sample
            chosen += [large[(large_turn + k) % len(large)] for k in range(min(LARGE_PER_SAMPLE, len(large)))]
            large_turn += LARGE_PER_SAMPLE
        for place in chosen:
            value = sample.value if place.kind == "json" else sample.text
            leaks.append(leak_case(f"leak-{place.name}-{sample.name}", place, sample, value, "plain"))

    # evasions: encoded samples at rotating small places
    evasions: list[dict[str, Any]] = []
    turn = 0
    for technique in TECHNIQUES:
        for name in (*EVASION_SAMPLES, "pickle_latin1"):
            sample = BY_NAME[name]
            if not technique.applies(sample):
                continue
            encoded = technique.encode(sample.value)
            pool = EVASION_JSON_PLACES if technique.json_only else EVASION_TEXT_PLACES + EVASION_JSON_PLACES
            place = PLACES_BY_NAME[pool[turn % len(pool)]]
            turn += 1
            if not technique.json_only and not fits(Sample(name, sample.cls, "", "", encoded), place):
                place = PLACES_BY_NAME[EVASION_JSON_PLACES[turn % len(EVASION_JSON_PLACES)]]
            evasions.append(leak_case(f"evasion-{technique.name}-{sample.name}", place, sample, encoded, technique.name))
    for index, (name, entity, make) in enumerate(BLOB_EVASIONS):
        sample = Sample(name, "blob", "blob", entity, make(), key="blob_state")
        place = PLACES_BY_NAME[EVASION_JSON_PLACES[index % len(EVASION_JSON_PLACES)]]
        evasions.append(leak_case(f"evasion-{name}", place, sample, sample.value, name))
    return {"clean.jsonl": clean, "leaks.jsonl": leaks, "evasions.jsonl": evasions}


def _line(case: dict[str, Any]) -> str:
    text = json.dumps(case, ensure_ascii=False)
    # Characters str.splitlines() breaks on (\x85, \u2028 ... from latin-1 carried bytes) and
    # lone surrogates stay escaped, so every reader sees one case per line.
    if len(text.splitlines()) != 1 or any("\ud800" <= c <= "\udfff" for c in text):
        text = json.dumps(case)
    return text + "\n"


def render_files() -> dict[str, str]:
    return {name: "".join(_line(case) for case in cases) for name, cases in build().items()}


def main() -> int:
    TEST_SET.mkdir(parents=True, exist_ok=True)
    for name, text in render_files().items():
        (TEST_SET / name).write_text(text, encoding="utf-8")
        print(f"{name}: {text.count(chr(10))} cases, {len(text.encode()) / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
