"""Verify a trail: every replica's hash chain, and every checkpoint's signature and hash.

What each failure means:
- edited: a record's content no longer matches its own hash (or its indexed columns disagree
  with its content);
- deleted: a sequence number is missing;
- inserted: a sequence number occurs twice;
- reordered: two records are in each other's place;
- deleted / inserted (renumbered): a record's hash is intact but was computed for another seq;
- chain_broken: a record is intact but does not follow the one before it (that one was
  replaced with a rehashed record);
- checkpoint_mismatch: the chain was rewritten consistently, but differs from what was signed;
- truncated: the chain ends before the last record a checkpoint signed;
- checkpoint_missing: a checkpoint's predecessor is gone;
- bad_signature: a checkpoint's signature does not verify with any of the given public keys.
Records after a replica's last checkpoint are an "unsigned tail": chained but not yet signed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from metagate.reports.chain import (
    GENESIS_HASH,
    Checkpoint,
    StoredRecord,
    canonical_json,
    record_hash,
)
from metagate.reports.keys import key_id

MAX_PROBLEMS_PER_REPLICA = 50


class TrailSource(Protocol):
    def replicas(self) -> list[str]: ...
    def checkpoints(self, replica_id: str) -> list[Checkpoint]: ...
    def entries(self, replica_id: str) -> Iterable[StoredRecord]: ...


@dataclass(frozen=True)
class Problem:
    kind: str
    replica_id: str
    seq: int | None
    record_id: str | None
    message: str
    checkpoint_seq: int | None = None

    def describe(self) -> str:
        return f"replica {self.replica_id}: {self.message}"


@dataclass
class ReplicaResult:
    replica_id: str
    records: int = 0
    last_seq: int = 0
    checkpoints: int = 0
    signed_through: int = 0             # highest seq covered by a valid checkpoint
    last_checkpoint_time: str | None = None
    problems: list[Problem] = field(default_factory=list)
    omitted_problems: int = 0

    @property
    def unsigned_tail(self) -> int:
        return max(0, self.last_seq - self.signed_through)

    def add(self, problem: Problem) -> None:
        if len(self.problems) < MAX_PROBLEMS_PER_REPLICA:
            self.problems.append(problem)
        else:
            self.omitted_problems += 1


@dataclass
class VerifyResult:
    replicas: list[ReplicaResult]
    key_ids: list[str]

    @property
    def problems(self) -> list[Problem]:
        return [p for r in self.replicas for p in r.problems]

    @property
    def ok(self) -> bool:
        return not any(r.problems or r.omitted_problems for r in self.replicas)

    @property
    def records(self) -> int:
        return sum(r.records for r in self.replicas)

    @property
    def checkpoints(self) -> int:
        return sum(r.checkpoints for r in self.replicas)

    @property
    def unsigned_tail(self) -> int:
        return sum(r.unsigned_tail for r in self.replicas)

    def lines(self) -> list[str]:
        out = []
        for r in self.replicas:
            out.append(
                f"replica {r.replica_id}: {r.records} records (seq 1..{r.last_seq}), {r.checkpoints} checkpoints, "
                f"signed through seq {r.signed_through}"
                + (f" at {r.last_checkpoint_time}" if r.last_checkpoint_time else "")
            )
            out += [f"  FAIL {p.kind}: {p.message}" for p in r.problems]
            if r.omitted_problems:
                out.append(f"  ... and {r.omitted_problems} more problems")
            if r.unsigned_tail and not r.problems:
                out.append(f"  unsigned tail: {r.unsigned_tail} records after the last checkpoint "
                           f"(seq {r.signed_through + 1}..{r.last_seq}) are chained but not yet signed")
        keys = ", ".join(self.key_ids) or "none"
        if self.ok:
            out.append(f"OK: {self.records} records in {len(self.replicas)} chain(s) verify; "
                       f"{self.checkpoints} checkpoint signatures valid (key {keys})")
        else:
            out.append(f"FAILED: {len(self.problems)} problem(s) found (checked with key {keys})")
        return out


MOVE_SEARCH = 16   # how far from its position a moved record's original seq is looked for


def _body(entry: StoredRecord) -> tuple[dict[str, Any] | None, str | None]:
    try:
        record = json.loads(entry.body)
        return (record if isinstance(record, dict) else None), canonical_json(record)
    except (ValueError, TypeError):
        return None, None


def _columns_match(entry: StoredRecord, record: dict[str, Any] | None) -> bool:
    return record is not None and (record.get("id"), record.get("time"), record.get("kind")) == (entry.id, entry.time, entry.kind)


def written_seq(entry: StoredRecord, body: str, hint: int = 0) -> int | None:
    """The seq this record's hash was computed for: its own when intact, another when it was
    moved (renumbered or swapped), None when its content was changed."""
    for candidate in dict.fromkeys([entry.seq, entry.seq + hint,
                                    *(entry.seq + d for r in range(1, MOVE_SEARCH + 1) for d in (r, -r))]):
        if candidate >= 1 and record_hash(entry.replica_id, candidate, entry.prev_hash, body) == entry.hash:
            return candidate
    return None


def entry_problem(entry: StoredRecord, expected_prev: str) -> tuple[str, str] | None:
    """(kind, message) when this record does not verify against its own hash or its predecessor."""
    where = f"record seq={entry.seq} id={entry.id}"
    record, body = _body(entry)
    if body is None:
        return "edited", f"{where}: content is not valid JSON (edited)"
    if record_hash(entry.replica_id, entry.seq, entry.prev_hash, body) != entry.hash:
        return "edited", f"{where}: content does not match its hash (edited or moved)"
    if not _columns_match(entry, record):
        return "edited", f"{where}: id, time or kind columns differ from the hashed content (edited)"
    if entry.prev_hash != expected_prev:
        return "chain_broken", f"{where}: does not follow record seq={entry.seq - 1} (inserted, replaced or reordered)"
    return None


def check_segment(replica_id: str, entries: list[StoredRecord], anchor: Checkpoint | None) -> str | None:
    """The first problem in a chain segment starting at `anchor`'s record (or at seq 1), or None.

    Used by a store before it extends its chain after a restart.
    """
    expected_seq, prev = (anchor.seq, None) if anchor else (1, GENESIS_HASH)
    for entry in entries:
        if entry.seq != expected_seq:
            return f"expected record seq={expected_seq}, found seq={entry.seq}"
        if prev is None:                            # the anchored record: must be what was signed
            if entry.hash != anchor.hash:           # type: ignore[union-attr]
                return f"record seq={entry.seq} id={entry.id} differs from the signed checkpoint"
            prev = entry.prev_hash
        problem = entry_problem(entry, prev)
        if problem is not None:
            return problem[1]
        prev, expected_seq = entry.hash, entry.seq + 1
    if anchor is not None and prev is None:
        return f"record seq={anchor.seq} signed by the last checkpoint is missing (truncated)"
    return None


def _check_chain(source: TrailSource, replica_id: str, result: ReplicaResult, wanted: set[int]) -> dict[int, StoredRecord]:
    """Walk the chain once; add problems to `result`; return the records checkpoints refer to."""
    signed_records: dict[int, StoredRecord] = {}
    expected_seq, prev = 1, GENESIS_HASH
    previous_sound = True       # the record before verified in place: a link to it can be judged
    shift = 0                   # current renumbering (written seq - stored seq), reported once
    moved: Problem | None = None
    for entry in source.entries(replica_id):
        result.records += 1
        where = f"record seq={entry.seq} id={entry.id}"
        if entry.seq < expected_seq:
            result.add(Problem("inserted", replica_id, entry.seq, entry.id, f"{where}: sequence number occurs again (inserted)"))
            continue
        if entry.seq > expected_seq:
            missing = f"seq={expected_seq}" if entry.seq == expected_seq + 1 else f"seq={expected_seq}..{entry.seq - 1}"
            result.add(Problem("deleted", replica_id, expected_seq, None, f"record {missing} missing before {where} (deleted)"))
            previous_sound = False
        if entry.seq in wanted:
            signed_records[entry.seq] = entry
        record, body = _body(entry)
        written = written_seq(entry, body, shift) if body is not None else None
        sound = False
        if written is None:
            result.add(Problem("edited", replica_id, entry.seq, entry.id, f"{where}: content does not match its hash (edited)"))
        elif not _columns_match(entry, record):
            result.add(Problem("edited", replica_id, entry.seq, entry.id,
                               f"{where}: id, time or kind columns differ from the hashed content (edited)"))
        elif written != entry.seq:
            offset = written - entry.seq
            if offset != shift or entry.prev_hash != prev:
                kind, how = ("deleted", f"{offset} record(s) before it deleted") if offset > 0 else \
                            ("inserted", f"{-offset} record(s) inserted before it")
                problem = Problem(kind, replica_id, entry.seq, entry.id,
                                  f"{where} was written as seq={written}: {how} and the chain renumbered, or records reordered")
                if moved is not None and moved.seq == entry.seq - 1 and offset == -1 and \
                        result.problems and result.problems[-1] is moved:
                    result.problems[-1] = Problem(
                        "reordered", replica_id, moved.seq, moved.record_id,
                        f"records seq={moved.seq} id={moved.record_id} and seq={entry.seq} id={entry.id} are in each other's place (reordered)")
                    moved = None
                else:
                    result.add(problem)
                    moved = problem
            shift = offset
        else:
            shift = 0
            sound = True
            if previous_sound and entry.prev_hash != prev:
                result.add(Problem("chain_broken", replica_id, entry.seq, entry.id,
                                   f"{where} does not follow record seq={entry.seq - 1}: that record was replaced "
                                   "(edited and rehashed), or records were inserted or reordered there"))
        previous_sound = sound
        prev, expected_seq = entry.hash, entry.seq + 1
    result.last_seq = expected_seq - 1
    return signed_records


def verify_replica(source: TrailSource, replica_id: str, public_keys: dict[str, Ed25519PublicKey]) -> ReplicaResult:
    result = ReplicaResult(replica_id)
    checkpoints = source.checkpoints(replica_id)
    signed_records = _check_chain(source, replica_id, result, {c.seq for c in checkpoints})

    previous_checkpoint = 0
    for checkpoint in checkpoints:
        result.checkpoints += 1
        label = f"checkpoint seq={checkpoint.seq} ({checkpoint.time})"
        if checkpoint.prev_seq != previous_checkpoint:
            result.add(Problem("checkpoint_missing", replica_id, checkpoint.seq, None,
                               f"{label}: follows a checkpoint at seq={checkpoint.prev_seq} that is missing "
                               f"(deleted checkpoint)", checkpoint.seq))
        previous_checkpoint = checkpoint.seq
        key = public_keys.get(checkpoint.key_id)
        signature_ok = key is not None and checkpoint.signature_valid(key)
        if not signature_ok:
            why = "bad signature" if key is not None else f"signed by key {checkpoint.key_id}, which is not a key given (bad signature)"
            result.add(Problem("bad_signature", replica_id, checkpoint.seq, None, f"{label}: {why}", checkpoint.seq))
        signed = signed_records.get(checkpoint.seq)
        if checkpoint.seq > result.last_seq:
            result.add(Problem("truncated", replica_id, checkpoint.seq, None,
                               f"{label} signs records up to seq={checkpoint.seq} but the chain ends at "
                               f"seq={result.last_seq} (truncated)", checkpoint.seq))
        elif signed is None or signed.hash != checkpoint.hash:
            which = f"record seq={checkpoint.seq}" + (f" id={signed.id}" if signed else "")
            result.add(Problem("checkpoint_mismatch", replica_id, checkpoint.seq, signed.id if signed else None,
                               f"{label}: signed hash differs from {which} (chain rewritten)", checkpoint.seq))
        elif signature_ok:
            result.signed_through = max(result.signed_through, checkpoint.seq)
            result.last_checkpoint_time = checkpoint.time
    return result


def verify_trail(source: TrailSource, public_keys: Iterable[Ed25519PublicKey]) -> VerifyResult:
    keys = {key_id(k): k for k in public_keys}
    return VerifyResult([verify_replica(source, replica, keys) for replica in source.replicas()], sorted(keys))


def summary(result: VerifyResult) -> dict[str, Any]:
    """Machine-readable outcome (for reports and --json)."""
    return {
        "ok": result.ok,
        "records": result.records,
        "checkpoints": result.checkpoints,
        "unsigned_tail": result.unsigned_tail,
        "key_ids": result.key_ids,
        "replicas": [
            {"replica_id": r.replica_id, "records": r.records, "last_seq": r.last_seq, "checkpoints": r.checkpoints,
             "signed_through": r.signed_through, "last_checkpoint_time": r.last_checkpoint_time,
             "unsigned_tail": r.unsigned_tail,
             "problems": [{"kind": p.kind, "seq": p.seq, "record_id": p.record_id,
                           "checkpoint_seq": p.checkpoint_seq, "message": p.message} for p in r.problems],
             "omitted_problems": r.omitted_problems}
            for r in result.replicas
        ],
    }
