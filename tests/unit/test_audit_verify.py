"""`metagate audit verify` finds each kind of tampering, names the record or checkpoint, and
exits 0 / 1 / 2; on SQLite and on PostgreSQL."""

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from metagate.proxy.cli import main
from metagate.reports.chain import canonical_json, record_hash
from metagate.reports.keys import load_signing_key, public_key_pem

from tests.support.audit_trails import BACKENDS, Backend, make_backend, make_record

pytest_plugins = ["tests.support.postgres"]


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path) -> Backend:
    return make_backend(request, tmp_path)

RECORDS = 30          # checkpoints at seq 10, 20 and 30


@pytest.fixture
def trail(backend: Backend) -> Backend:
    backend.write(RECORDS, checkpoint_records=10, checkpoint_seconds=3600)
    return backend


def run_verify(backend: Backend, capsys, *extra: str) -> tuple[int, str]:
    code = main(["audit", "verify", *backend.cli_args(), *extra])
    out = capsys.readouterr()
    return code, out.out + out.err


def problems(backend: Backend) -> list[dict]:
    from metagate.reports.verify import summary, verify_trail

    with backend.reader() as reader:
        result = summary(verify_trail(reader, [load_signing_key(backend.data_dir).public_key()]))
    return [p for r in result["replicas"] for p in r["problems"]]


def test_an_untouched_trail_verifies(trail, capsys):
    code, out = run_verify(trail, capsys)
    assert code == 0, out
    assert f"OK: {RECORDS} records" in out and "3 checkpoint signatures valid" in out


def test_an_edited_record_is_named(trail, capsys):
    with trail.sql() as sql:
        row = sql.row(15)
        sql.execute("UPDATE audit_records SET body = ? WHERE seq = 15", (row["body"].replace('"POST"', '"GET"'),))
    code, out = run_verify(trail, capsys)
    assert code == 1
    assert f"FAIL edited: record seq=15 id={row['id']}: content does not match its hash" in out


def test_an_edited_column_is_found(trail):
    with trail.sql() as sql:
        sql.execute("UPDATE audit_records SET record_time = ? WHERE seq = 4", ("2020-01-01T00:00:00.000000+00:00",))
    assert [(p["kind"], p["seq"]) for p in problems(trail)] == [("edited", 4)]


def test_an_edited_and_rehashed_record_breaks_the_link_to_the_next(trail, capsys):
    with trail.sql() as sql:
        row = sql.row(15)
        body = canonical_json({**json.loads(row["body"]), "bytes": 1})
        sql.execute("UPDATE audit_records SET body = ?, hash = ? WHERE seq = 15",
                    (body, record_hash("local" if trail.url is None else row["replica_id"], 15, row["prev_hash"], body)))
    code, out = run_verify(trail, capsys)
    assert code == 1
    assert "FAIL chain_broken: record seq=16" in out and "does not follow record seq=15" in out


def test_a_rewritten_chain_differs_from_what_was_signed(trail, capsys):
    with trail.sql() as sql:
        row = sql.row(15)
        sql.execute("UPDATE audit_records SET body = ? WHERE seq = 15",
                    (canonical_json({**json.loads(row["body"]), "decision": "block"}),))
        sql.rehash_from(15)
    code, out = run_verify(trail, capsys)
    assert code == 1
    assert [(p["kind"], p["checkpoint_seq"]) for p in problems(trail)] == [("checkpoint_mismatch", 20), ("checkpoint_mismatch", 30)]
    assert "checkpoint seq=20" in out and "signed hash differs from record seq=20" in out


def test_a_deleted_record_is_named(trail, capsys):
    with trail.sql() as sql:
        sql.delete(15)
    code, out = run_verify(trail, capsys)
    assert code == 1
    assert "FAIL deleted: record seq=15 missing before record seq=16" in out


def test_a_deleted_record_with_the_chain_renumbered_is_found(trail):
    with trail.sql() as sql:
        sql.delete(15)
        sql.renumber(16, -1)
        moved = sql.row(15)
    found = problems(trail)
    assert found[0]["kind"] == "deleted" and found[0]["seq"] == 15 and found[0]["record_id"] == moved["id"]
    assert "was written as seq=16" in found[0]["message"]


def test_an_inserted_record_is_found(trail, capsys):
    with trail.sql() as sql:
        previous = sql.row(14)
        sql.renumber(15, +1)
        forged = make_record(99, decision="allow")
        body = canonical_json(forged)
        sql.put({"replica_id": previous["replica_id"], "seq": 15, "id": forged["id"], "record_time": forged["time"],
                 "kind": "request", "prev_hash": previous["hash"], "body": body,
                 "hash": record_hash(previous["replica_id"], 15, previous["hash"], body)})
        pushed = sql.row(16)
    code, out = run_verify(trail, capsys)
    assert code == 1
    assert f"FAIL inserted: record seq=16 id={pushed['id']} was written as seq=15" in out


def test_reordered_records_are_found(trail, capsys):
    with trail.sql() as sql:
        a, b = sql.row(15), sql.row(16)
        for target, source in ((15, b), (16, a)):
            sql.execute("UPDATE audit_records SET id = ?, record_time = ?, kind = ?, prev_hash = ?, hash = ?, body = ? "
                        "WHERE seq = ?", (source["id"], source["record_time"], source["kind"], source["prev_hash"],
                                          source["hash"], source["body"], target))
    code, out = run_verify(trail, capsys)
    assert code == 1
    assert f"FAIL reordered: records seq=15 id={b['id']} and seq=16 id={a['id']} are in each other's place" in out


def test_a_truncated_tail_is_found(trail, capsys):
    with trail.sql() as sql:
        for seq in range(26, RECORDS + 1):
            sql.delete(seq)
    code, out = run_verify(trail, capsys)
    assert code == 1
    assert "FAIL truncated: checkpoint seq=30" in out and "the chain ends at seq=25" in out


def test_a_deleted_checkpoint_is_found(trail):
    with trail.sql() as sql:
        sql.execute("DELETE FROM audit_checkpoints WHERE seq = 20")
    assert [(p["kind"], p["checkpoint_seq"]) for p in problems(trail)] == [("checkpoint_missing", 30)]


def test_records_after_the_last_checkpoint_are_an_unsigned_tail(trail, capsys):
    with trail.sql() as sql:      # a crash after five more commits: chained, not yet signed
        sql.execute("DELETE FROM audit_checkpoints WHERE seq = 30")
    code, out = run_verify(trail, capsys)
    assert code == 0, out
    assert "unsigned tail: 10 records after the last checkpoint (seq 21..30)" in out
    code, out = run_verify(trail, capsys, "--strict")
    assert code == 1 and "not covered by a checkpoint" in out


def test_a_bad_signature_is_named(trail, capsys):
    with trail.sql() as sql:
        (signature,) = sql.execute("SELECT signature FROM audit_checkpoints WHERE seq = 20")[0]
        flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
        sql.execute("UPDATE audit_checkpoints SET signature = ? WHERE seq = 20", (flipped,))
    code, out = run_verify(trail, capsys)
    assert code == 1
    assert "FAIL bad_signature: checkpoint seq=20" in out


def test_a_checkpoint_forged_by_a_different_key_fails(trail, capsys, tmp_path):
    from metagate.reports.chain import sign_checkpoint
    from metagate.reports.keys import key_id

    forger = Ed25519PrivateKey.generate()
    with trail.sql() as sql:
        row = sql.row(30)
        sql.execute("DELETE FROM audit_checkpoints WHERE seq = 30")
        fake = sign_checkpoint(forger, key_id(forger.public_key()), row["replica_id"], 30, row["hash"],
                               "2026-11-26T06:00:00.000000+00:00", 20)
        sql.execute("INSERT INTO audit_checkpoints VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (fake.replica_id, fake.seq, fake.hash, fake.time, fake.prev_seq, fake.key_id, fake.signature))
    public = tmp_path / "reviewer.pem"
    public.write_bytes(public_key_pem(load_signing_key(trail.data_dir).public_key()))
    code, out = run_verify(trail, capsys, "--public-key", str(public))
    assert code == 1
    assert "FAIL bad_signature: checkpoint seq=30" in out and "not a key given" in out


def test_verifying_with_the_wrong_public_key_fails(trail, capsys, tmp_path):
    other = tmp_path / "other.pem"
    other.write_bytes(public_key_pem(Ed25519PrivateKey.generate().public_key()))
    code, out = run_verify(trail, capsys, "--public-key", str(other))
    assert code == 1 and out.count("FAIL bad_signature") == 3


def test_the_exported_public_key_verifies_and_json_output_is_complete(trail, capsys, tmp_path):
    assert main(["keys", "export-public", "--data-dir", str(trail.data_dir), "--out", str(tmp_path / "k.pem")]) == 0
    code, out = run_verify(trail, capsys, "--public-key", str(tmp_path / "k.pem"), "--json")
    assert code == 0
    summary = json.loads(out[out.index("{"):])
    assert summary["ok"] and summary["records"] == RECORDS and summary["replicas"][0]["signed_through"] == RECORDS


def test_an_unreadable_trail_exits_2(tmp_path, capsys):
    code = main(["audit", "verify", "--data-dir", str(tmp_path / "nothing")])
    assert code == 2
    (tmp_path / "bad" / "audit").mkdir(parents=True)
    (tmp_path / "bad" / "audit" / "trail.db").write_bytes(b"this is not a database" * 100)
    (tmp_path / "bad" / "keys").mkdir()
    code = main(["audit", "verify", "--data-dir", str(tmp_path / "bad"), "--public-key", str(tmp_path / "missing.pem")])
    assert code == 2
    assert "cannot" in capsys.readouterr().err


def test_a_damaged_database_file_exits_2(trail, capsys):
    if trail.url is not None:
        pytest.skip("a file-level fault")
    path = trail.data_dir / "audit" / "trail.db"
    path.write_bytes(b"\0" * 100 + path.read_bytes()[100:])
    code, out = run_verify(trail, capsys)
    assert code == 2, out


@pytest.mark.postgres
def test_an_unreachable_database_exits_2(tmp_path, capsys, postgres_cluster):
    from tests.support.processes import free_port

    backend_dir = tmp_path / "data"
    Backend("sqlite", backend_dir).write(1)   # a local key so only the store is missing
    url = f"postgresql://nobody:nothing@127.0.0.1:{free_port()}/none"
    code = main(["audit", "verify", "--data-dir", str(backend_dir), "--store", url])
    err = capsys.readouterr().err
    assert code == 2 and "nothing" not in err     # the DSN's password is not echoed
