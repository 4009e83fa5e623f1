"""BlobDetector and NumericArrayDetector."""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import io
import json
import pickle
import random
import struct
import uuid
import zipfile

import pytest
import zstandard
from metagate.scanner.detectors.blobs import BlobDetector, NumericArrayDetector
from metagate.scanner.model import Leaf

# Fixed pseudo-random bytes: the tests must not depend on the luck of os.urandom.
RNG = random.Random(20240601)


def noise(n: int) -> bytes:
    return bytes(RNG.getrandbits(8) for _ in range(n))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def npy_bytes() -> bytes:
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (10,), }"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", 118) + header.ljust(117) + b"\n" + noise(80)


def npz_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("arr_0.npy", npy_bytes())
    return buffer.getvalue()


def safetensors_bytes() -> bytes:
    header = json.dumps({"weight": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 64]}}).encode()
    return struct.pack("<Q", len(header)) + header + noise(64)


@pytest.fixture(scope="module")
def detector() -> BlobDetector:
    return BlobDetector()


def found(detector: BlobDetector, leaves: list[Leaf]) -> list[tuple[int, str, int, int]]:
    return sorted((h.leaf, h.entity, h.start, h.end) for h in detector.scan(leaves))


def one(detector: BlobDetector, text: str, field_class: str = "user_dict") -> list[str]:
    return [entity for _, entity, _, _ in found(detector, [Leaf("$.values.x", text, field_class)])]


# --- encoded files --------------------------------------------------------------------

FILES = [
    ("BLOB_NPY", npy_bytes()),
    ("BLOB_ZIP", npz_bytes()),
    ("BLOB_GZIP", gzip.compress(noise(100))),
    ("BLOB_ZSTD", zstandard.compress(noise(100))),
    ("BLOB_SAFETENSORS", safetensors_bytes()),
    ("BLOB_PARQUET", b"PAR1" + noise(100)),
    ("BLOB_HDF5", b"\x89HDF\r\n\x1a\n" + noise(100)),
    ("BLOB_PNG", b"\x89PNG\r\n\x1a\n" + noise(100)),
    ("BLOB_JPEG", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + noise(100)),
    ("BLOB_PDF", b"%PDF-1.7\n" + noise(100)),
    ("BLOB_ONNX", b"\x08\x07\x12\x07pytorch\x1a\x032.1" + noise(100)),
]


@pytest.mark.parametrize(("entity", "data"), FILES, ids=[f[0] for f in FILES])
def test_base64_files_are_named_by_their_magic_bytes(detector, entity, data):
    text = b64(data)
    assert found(detector, [Leaf("$.values.x", text, "user_dict")]) == [(0, entity, 0, len(text))]


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_pickles_of_every_binary_protocol(detector, protocol):
    assert one(detector, b64(pickle.dumps({"weights": list(range(40)), "name": "m"}, protocol=protocol))) == [
        "BLOB_PICKLE"
    ]


def test_base64url_and_hex_encodings(detector):
    data = pickle.dumps(noise(100), protocol=5)
    assert one(detector, base64.urlsafe_b64encode(data).decode().rstrip("=")) == ["BLOB_PICKLE"]
    assert one(detector, binascii.hexlify(data).decode()) == ["BLOB_PICKLE"]


def test_mime_wrapped_base64_is_one_blob(detector):
    encoded = b64(pickle.dumps(noise(300), protocol=4))
    for newline in ("\n", "\\n"):
        wrapped = newline.join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
        assert found(detector, [Leaf("$.x", wrapped, "user_dict")]) == [(0, "BLOB_PICKLE", 0, len(wrapped))]


def test_blob_inside_source_code_has_its_span(detector):
    encoded = b64(pickle.dumps([1.5] * 30, protocol=2))
    code = f'weights = pickle.loads(base64.b64decode("{encoded}"))\n'
    start = code.index(encoded)
    assert found(detector, [Leaf("$.source_code", code, "code")]) == [(0, "BLOB_PICKLE", start, start + len(encoded))]


def test_data_uri_is_reported_once(detector):
    payload = b64(b"\x89PNG\r\n\x1a\n" + noise(60))
    text = f"preview: data:image/png;base64,{payload}"
    assert found(detector, [Leaf("$.x", text, "free_text")]) == [(0, "DATA_URI", 9, len(text))]


def test_blob_before_a_data_uri_is_still_reported(detector):
    blob = b64(gzip.compress(noise(80)))
    uri = "data:text/plain;base64," + b64(b"hello world, hello world")
    text = f"{blob} {uri}"
    assert [entity for _, entity, _, _ in found(detector, [Leaf("$.x", text, "user_dict")])] == [
        "BLOB_GZIP",
        "DATA_URI",
    ]


def test_undecodable_randomness(detector):
    assert one(detector, b64(noise(96))) == ["BLOB_BASE64"]
    assert one(detector, noise(100).hex()) == ["BLOB_HEX"]
    # Base64 of text decodes to text: still an encoded payload, reported as high entropy.
    encoded_rows = b64(json.dumps([{"name": "Jane Doe", "ssn": "219-09-9999"}] * 3).encode())
    assert one(detector, encoded_rows) == ["HIGH_ENTROPY"]


def test_thresholds_are_constructor_arguments():
    text = b64(noise(60))  # 80 characters
    assert one(BlobDetector(min_run_length=64), text) == ["BLOB_BASE64"]
    assert one(BlobDetector(min_run_length=128), text) == []


def test_hits_map_back_to_the_right_leaf(detector):
    blob = b64(gzip.compress(noise(80)))
    leaves = [
        Leaf("$.a", "short", "name"),
        Leaf("$.id", str(uuid.uuid4()), "id"),
        Leaf("$.b", "x " + blob, "user_dict"),
    ]
    assert found(detector, leaves) == [(2, "BLOB_GZIP", 2, 2 + len(blob))]


# --- negatives ------------------------------------------------------------------------

NEGATIVES = [
    str(uuid.uuid4()),
    uuid.uuid4().hex,
    hashlib.md5(b"a").hexdigest(),
    hashlib.sha1(b"a").hexdigest(),
    hashlib.sha256(b"a").hexdigest(),
    hashlib.sha512(b"a").hexdigest(),
    "sha256:" + hashlib.sha256(b"a").hexdigest(),
    hashlib.sha256(b"a").hexdigest() + "," + hashlib.sha256(b"b").hexdigest(),
    "/usr/lib/python3.11/site-packages/zenml/integrations/sklearn/materializers/sklearn_materializer.py",
    "s3://acme-zenml-artifacts/training_pipeline/trainer/output/"
    + uuid.uuid4().hex
    + "/"
    + hashlib.sha256(b"x").hexdigest(),
    "training_pipeline_with_a_very_long_descriptive_name_for_the_quarterly_churn_model_v2",
    "TrainingPipelineWithAVeryLongDescriptiveNameForTheQuarterlyChurnModelVersion2024Q3Final",
    "zenml.integrations.huggingface.materializers.huggingface_pt_model_materializer.HFPTModelMaterializer",
    "https://console.cloud.google.com/vertex-ai/locations/europe-west4/pipelines/runs/training-pipeline-20240601123456?project=acme-ml-prod-123456",
    "numpy==2.4.6\npandas==2.2.3\nscikit-learn==1.5.2\nzenml==0.98.0\n",
    "The quick brown fox jumps over the lazy dog. " * 5,
    "@step\ndef trainer(df: pd.DataFrame) -> float:\n    return float(df['target'].mean())\n",
    "{{azure_storage.account_key}}",
]


@pytest.mark.parametrize("text", NEGATIVES, ids=[t[:32] for t in NEGATIVES])
def test_zenml_metadata_is_not_a_blob(detector, text):
    assert one(detector, text) == []


def test_skipped_classes(detector):
    blob = b64(gzip.compress(noise(80)))
    for field_class in ("hash", "id", "secret_ref"):
        assert not detector.wants(Leaf("$.x", blob, field_class))


# --- numeric arrays and record tables ---------------------------------------------------


@pytest.fixture(scope="module")
def arrays() -> NumericArrayDetector:
    return NumericArrayDetector(min_numbers=128, min_records=20)


def test_embedding_is_a_numeric_array(arrays):
    body = {"values": {"embedding": [RNG.random() for _ in range(384)], "lr": 0.05}}
    assert list(arrays.scan_tree(body)) == [("$.values.embedding", "NUMERIC_ARRAY", 0.9)]


def test_nested_matrix_is_one_finding_at_its_root(arrays):
    body = {"metadata": {"weird key": {"w": [[RNG.random() for _ in range(16)] for _ in range(16)]}}}
    assert list(arrays.scan_tree(body)) == [('$.metadata["weird key"].w', "NUMERIC_ARRAY", 0.9)]


def test_arrays_inside_lists_have_index_paths(arrays):
    body = [{"vec": list(range(200))}, {"vec": [1, 2]}]
    assert list(arrays.scan_tree(body)) == [("$[0].vec", "NUMERIC_ARRAY", 0.9)]


@pytest.mark.parametrize(
    "body",
    [
        {"shape": [32, 3, 224, 224], "mean": 0.5},
        {"values": [0.1] * 100},  # under the threshold
        {"values": [0.1] * 200 + ["x"]},  # mixed types
        {"flags": [True] * 300},  # booleans are not numbers
        {"ids": [str(uuid.uuid4()) for _ in range(200)]},
    ],
    ids=["shape", "short", "mixed", "bools", "uuids"],
)
def test_small_or_non_numeric_lists_are_metadata(arrays, body):
    assert list(arrays.scan_tree(body)) == []


def test_records_with_identical_keys_are_a_table(arrays):
    rows = [{"name": f"user{i}", "age": 20 + i, "city": "Berlin"} for i in range(25)]
    assert list(arrays.scan_tree({"run_metadata": {"sample": rows}})) == [
        ("$.run_metadata.sample", "RECORD_TABLE", 0.8)
    ]


def test_zenml_lists_of_objects_are_not_tables(arrays):
    steps = [{"source": f"steps.s{i}", "upstream_steps": [], "inputs": {}} for i in range(30)]
    links = [
        {"tag_id": str(uuid.uuid4()), "resource_id": str(uuid.uuid4()), "resource_type": "pipeline_run"}
        for _ in range(30)
    ]
    ragged = [{"a": i, "b": i} if i % 2 else {"a": i} for i in range(30)]
    few = [{"name": f"user{i}", "age": i} for i in range(5)]
    for body in ({"steps": steps}, links, {"rows": ragged}, {"rows": few}):
        assert list(arrays.scan_tree(body)) == []


def test_array_thresholds_are_constructor_arguments():
    body = {"v": list(range(10)), "rows": [{"a": i, "b": "x"} for i in range(4)]}
    assert list(NumericArrayDetector().scan_tree(body)) == []
    assert sorted(NumericArrayDetector(min_numbers=8, min_records=3).scan_tree(body)) == [
        ("$.rows", "RECORD_TABLE", 0.8),
        ("$.v", "NUMERIC_ARRAY", 0.9),
    ]


def test_a_body_with_too_few_commas_for_a_table_or_tensor_is_not_walked():
    arrays = NumericArrayDetector(min_numbers=8, min_records=3)
    assert not arrays.may_find(b'{"values": {"v": [1, 2]}}')
    rows = [{"a": i, "b": "x"} for i in range(3)]
    body = json.dumps({"values": {"rows": rows}}).encode()
    assert arrays.may_find(body) and list(arrays.scan_tree(json.loads(body)))
