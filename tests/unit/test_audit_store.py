"""The SQLite and PostgreSQL stores: durable chained records, group commit, checkpoints,
restart after a crash, concurrent writers."""

import os
import stat
import threading
import time

import pytest
from metagate.reports.keys import load_signing_key, signing_key_path
from metagate.reports.store import open_store, read_records, store_files
from metagate.reports.trail import AuditError
from metagate.reports.verify import verify_trail

from tests.support.audit_trails import BACKENDS, Backend, make_backend, make_record

pytest_plugins = ["tests.support.postgres"]


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path) -> Backend:
    return make_backend(request, tmp_path)


def verify(backend: Backend):
    with backend.reader() as reader:
        return verify_trail(reader, [load_signing_key(backend.data_dir).public_key()])


def test_records_come_back_as_committed_in_one_chain(backend):
    records = backend.write(12)
    assert read_records(backend.data_dir, backend.url) == records
    with backend.reader() as reader:
        entries = list(reader.entries("local" if backend.url is None else reader.replicas()[0]))
    assert [e.seq for e in entries] == list(range(1, 13))
    assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:]))
    result = verify(backend)
    assert result.ok and result.records == 12 and result.unsigned_tail == 0


def test_records_queued_together_are_committed_in_one_transaction(backend):
    store = backend.open()
    try:
        with store._cond:   # hold the writer back while 50 requests queue their records
            futures = [store.commit(make_record(i)) for i in range(50)]
        for future in futures:
            future.result(timeout=30)
        assert store.batches == 1 and store.records_written == 50
    finally:
        store.close()
    assert len(read_records(backend.data_dir, backend.url)) == 50


def test_concurrent_writers_each_get_their_records_committed_in_one_chain(backend):
    store = backend.open()
    done = []

    def writer(offset: int) -> None:
        for i in range(20):
            store.commit(make_record(offset + i)).result(timeout=30)
        done.append(offset)

    threads = [threading.Thread(target=writer, args=(n * 100,)) for n in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        store.close()
    assert len(done) == 8 and store.records_written == 160
    assert len({r["id"] for r in read_records(backend.data_dir, backend.url)}) == 160
    result = verify(backend)
    assert result.ok and result.records == 160


def test_checkpoints_every_n_records_and_at_close(backend):
    store = backend.open(checkpoint_records=10, checkpoint_seconds=3600)
    try:
        for i in range(25):
            store.commit(make_record(i)).result(timeout=30)
        with backend.reader() as reader:
            replica = reader.replicas()[0]
            assert [c.seq for c in reader.checkpoints(replica)] == [10, 20]
    finally:
        store.close()
    with backend.reader() as reader:
        checkpoints = reader.checkpoints(replica)
    assert [(c.seq, c.prev_seq) for c in checkpoints] == [(10, 0), (20, 10), (25, 20)]
    result = verify(backend)
    assert result.ok and result.replicas[0].signed_through == 25


def test_checkpoint_after_t_seconds_while_idle(backend):
    store = backend.open(checkpoint_records=1000, checkpoint_seconds=0.2)
    try:
        store.commit(make_record(0)).result(timeout=30)
        deadline = time.monotonic() + 30
        while store.checkpoints_written == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.checkpoints_written == 1
    finally:
        store.close()
    with backend.reader() as reader:
        assert [c.seq for c in reader.checkpoints(reader.replicas()[0])] == [1]


def test_a_restarted_store_continues_the_chain(backend):
    backend.write(5)
    backend.write(5, start=5)
    result = verify(backend)
    assert result.ok and result.records == 10 and result.checkpoints == 2 and result.unsigned_tail == 0


def test_an_unsigned_tail_left_by_a_crash_is_checked_and_signed_on_restart(backend):
    backend.write(5)
    with backend.sql() as sql:     # what a crash leaves: chained records after the last checkpoint
        sql.execute("DELETE FROM audit_checkpoints")
    assert verify(backend).unsigned_tail == 5
    backend.write(1, start=5)
    result = verify(backend)
    assert result.ok and result.unsigned_tail == 0 and result.checkpoints == 2


def test_a_store_refuses_to_extend_a_tail_altered_since_its_last_checkpoint(backend):
    backend.write(5)
    with backend.sql() as sql:
        sql.execute("DELETE FROM audit_checkpoints")
        sql.execute("UPDATE audit_records SET body = replace(body, '\"POST\"', '\"GET\"') WHERE seq = 3")
    with pytest.raises(AuditError, match="fails verification after its last checkpoint.*seq=3"):
        backend.open()


def test_sensitive_keys_never_reach_the_store(backend):
    store = backend.open()
    try:
        store.commit(make_record(0, headers={"Authorization": "Bearer tok-123456789", "Cookie": "sid=cookie-v4lue"},
                                 api_key="key-abcdef", note="token eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl")).result(timeout=30)
    finally:
        store.close()
    (record,) = read_records(backend.data_dir, backend.url)
    dump = str(record).encode()
    raw = b"".join(p.read_bytes() for p in store_files(backend.data_dir))
    for value in (b"tok-123456789", b"cookie-v4lue", b"key-abcdef", b"c2lnbmF0dXJl"):
        assert value not in dump and value not in raw
    assert record["scrubbed"] == ["$.api_key", "$.headers.Authorization", "$.headers.Cookie", "$.note"]


def test_sqlite_files_are_private_and_use_wal(tmp_path):
    store = open_store(None, tmp_path)
    try:
        store.commit(make_record(0)).result(timeout=30)
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2   # FULL
        for path in store_files(tmp_path):
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
        assert stat.S_IMODE(os.stat(tmp_path / "audit").st_mode) == 0o700
        assert stat.S_IMODE(os.stat(signing_key_path(tmp_path)).st_mode) == 0o600
    finally:
        store.close()


def test_a_closed_store_refuses_records(tmp_path):
    store = open_store(None, tmp_path)
    store.close()
    with pytest.raises(AuditError, match="closed"):
        store.commit(make_record(0)).result(timeout=5)


@pytest.mark.postgres
def test_replicas_write_their_own_chains_into_one_database(postgres_url, tmp_path):
    stores = [open_store({"store": postgres_url, "replica_id": f"replica-{n}", "checkpoint_records": 7}, tmp_path)
              for n in range(3)]
    try:
        futures = [s.commit(make_record(i)) for i in range(20) for s in stores]
        for future in futures:
            future.result(timeout=30)
    finally:
        for store in stores:
            store.close()
    backend = Backend("postgres", tmp_path, postgres_url)
    result = verify(backend)
    assert result.ok
    assert [(r.replica_id, r.records, r.signed_through) for r in result.replicas] == \
        [(f"replica-{n}", 20, 20) for n in range(3)]


def test_a_second_writer_for_the_same_chain_is_refused(backend):
    settings = {"replica_id": "shared"}
    first = backend.open(**settings)
    try:
        with pytest.raises(AuditError, match="another metagate process"):
            backend.open(**settings)
        first.commit(make_record(0)).result(timeout=30)
    finally:
        first.close()
    second = backend.open(**settings)       # free again once the first one closed
    second.close()
    assert verify(backend).ok


@pytest.mark.postgres
def test_a_lost_database_connection_fails_those_records_and_the_store_recovers(postgres_url, tmp_path):
    import psycopg

    store = open_store({"store": postgres_url, "replica_id": "r"}, tmp_path)
    try:
        store.commit(make_record(0)).result(timeout=30)
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        with pytest.raises(AuditError):
            store.commit(make_record(1)).result(timeout=30)
        store.commit(make_record(2)).result(timeout=30)
    finally:
        store.close()
    result = verify(Backend("postgres", tmp_path, postgres_url))
    assert result.ok and result.records == 2
