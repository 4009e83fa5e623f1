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
    # Base64 of text is judged by the text: its decoded view goes to every detector (the
    # rows below are found there, test_codec_placements.py), and base64 of a small JSON config
    # is metadata. Base64 of a random token (a key) is still random as decoded.
    encoded_rows = b64(json.dumps([{"name": "Jane Doe", "ssn": "219-09-9999"}] * 3).encode())
    assert one(detector, encoded_rows) == []
    assert one(detector, b64(b"token: " + base64.b64encode(noise(48)))) == ["HIGH_ENTROPY"]


# --- smuggled past offset 0, raw, or at a digest's length (issue 12) -----------------------


@pytest.mark.parametrize(("entity", "data"), FILES[:-1] + [("BLOB_PICKLE", pickle.dumps(noise(80), protocol=4))],
                         ids=[f[0] for f in FILES[:-1]] + ["BLOB_PICKLE"])
@pytest.mark.parametrize("junk", [1, 7, 64, 120])
def test_files_behind_leading_junk_bytes_are_named(detector, entity, data, junk):
    if entity in ("BLOB_JPEG", "BLOB_GZIP", "BLOB_SAFETENSORS", "BLOB_ONNX"):
        pytest.skip("a signature shorter than four bytes is trusted at offset 0 only")
    assert one(detector, b64(noise(junk) + data)) == [entity]


def test_files_behind_misaligning_junk_characters_are_named(detector):
    encoded = b64(pickle.dumps(noise(120), protocol=4))
    for junk in ("x", "ab", "Q9z"):
        assert one(detector, junk + encoded) == ["BLOB_PICKLE"]


@pytest.mark.parametrize(("entity", "data"), [("BLOB_PICKLE", pickle.dumps({"w": list(range(30))}, protocol=4)),
                                              ("BLOB_PNG", b"\x89PNG\r\n\x1a\n" + noise(60)),
                                              ("BLOB_NPY", npy_bytes()), ("BLOB_ZIP", npz_bytes())])
def test_raw_bytes_carried_as_a_latin1_string_are_named(detector, entity, data):
    text = data.decode("latin-1")
    assert one(detector, text) == [entity]
    assert one(detector, "junk:" + text) == [entity]


@pytest.mark.parametrize("text", ["caf\u00e9 cr\u00e8me br\u00fbl\u00e9e, \u00a9 2024 \u00bd price",   # latin-1 prose
                                  "tab\tseparated\nlines\r\n", "\u20ac \u00e4\u00f6\u00fc"])
def test_latin1_text_is_no_blob(detector, text):
    assert one(detector, text) == []


@pytest.mark.parametrize("length", sorted({32, 40, 56, 64, 96, 128}))
def test_a_file_at_a_digest_length_is_named_by_a_strong_signature(detector, length):
    data = (b"\x89PNG\r\n\x1a\n" + noise(64))[: length // 2]
    if length >= 64:
        assert one(detector, data.hex()) == ["BLOB_PNG"]
    pickled = (b"\x80\x04\x95" + noise(64))[: length // 2]
    if length >= 64:
        assert one(detector, pickled.hex().upper()) == ["BLOB_PICKLE"]


def test_real_digests_never_decide_a_verdict(detector):
    digests = [hashlib.new(algo, str(i).encode()).hexdigest() for i in range(3000)
               for algo in ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")]
    assert [d for d in digests if one(detector, d) or one(detector, d.upper()) or one(detector, f"sha256:{d}")] == []


@pytest.mark.parametrize("root", ["/srv/mlops/zenml", "/mnt/ml/store", "s3://acme-ml/zenml", "gs://b/zenml", "C:/zenml"])
def test_artifact_uris_under_any_store_root_are_no_blob(detector, root):
    ids = [str(uuid.UUID(int=RNG.getrandbits(128))) for _ in range(2)]
    for tail in (f"{RNG.getrandbits(32):08x}", f"{RNG.getrandbits(32):08x}.html", "data.parquet"):
        uri = f"{root}/local_stores/{ids[0]}/custom_artifacts/TrainModelStep/visualizations/{ids[1]}/{tail}"
        assert one(detector, uri, "uri") == [] and one(detector, uri, "user_dict") == []


def test_a_blob_inside_a_path_segment_is_still_found(detector):
    encoded = base64.urlsafe_b64encode(pickle.dumps(noise(90), protocol=4)).decode().rstrip("=")
    assert one(detector, f"/srv/mlops/zenml/local_stores/{encoded}/x_y") == ["BLOB_PICKLE"]


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
