"""Write-back: the published plan's new owners pushed to the CRM, in batches, resumable after a crash.

`owner_changes` lists the records whose CRM owner differs from the plan: the accounts, and the
contacts and open opportunities that follow them (`FollowRules`). `write_back` pushes them through a
CRM's `Push` (Salesforce, HubSpot) one batch per call, and appends each batch's results to a ledger
(JSON lines, fsynced) before the next; a re-run skips what the ledger records as written, so an
interrupted write-back resumes where it stopped and a finished one sends nothing again. Without
approval it is a dry run that only counts. `data_loader_files` writes the same changes as
Salesforce Data Loader update files, for orgs that load them by hand.

Changes are computed from the CRM tables of the run whose plan is written back, so that a re-run
computes the same changes and the ledger recognises them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class OwnerChange:
    """One CRM record to hand to a new owner."""

    object: str  # the CRM object to update, e.g. "Account", "Contact", "Opportunity" (HubSpot: "companies", ...)
    record_id: str
    account_id: str
    from_owner: str | None
    to_owner: str


@dataclass(frozen=True)
class PushResult:
    """What the CRM answered for one change: written, or the reason it was refused."""

    record_id: str
    ok: bool
    error: str | None = None


# (object, batch) -> one result per change of the batch. It raises only when the CRM cannot be reached.
Push = Callable[[str, list[OwnerChange]], list[PushResult]]

CONTACTS_FOLLOW = ("all", "previous_owner", "none")


@dataclass(frozen=True)
class FollowRules:
    """Which records move with an account to its new owner.

    `contacts`: "all" of the account's contacts, only those the "previous_owner" of the account owned
    (a contact without owner counts as owned by an account without owner), or "none".
    `open_opportunities`: whether the account's open opportunities move too.
    """

    contacts: str = "previous_owner"
    open_opportunities: bool = True

    def __post_init__(self) -> None:
        if self.contacts not in CONTACTS_FOLLOW:
            raise ValueError(f"contacts must be one of {', '.join(CONTACTS_FOLLOW)}, got {self.contacts!r}")


@dataclass(frozen=True)
class ObjectNames:
    """The CRM's names of the objects that hold accounts, contacts and opportunities."""

    account: str = "Account"
    contact: str = "Contact"
    opportunity: str = "Opportunity"


SALESFORCE_OBJECT_NAMES = ObjectNames()
HUBSPOT_OBJECT_NAMES = ObjectNames("companies", "contacts", "deals")


@dataclass(frozen=True)
class ObjectCounts:
    """One object's changes: planned in all, found written in the ledger, written and failed by this run."""

    planned: int = 0
    already_done: int = 0
    written: int = 0
    failed: int = 0

    @property
    def to_write(self) -> int:
        return self.planned - self.already_done


@dataclass(frozen=True)
class FailedChange:
    """A change the CRM refused, and its reason; the next run tries it again."""

    change: OwnerChange
    error: str


@dataclass(frozen=True)
class WritebackReport:
    """What a write-back did, or in a dry run would do, per object, and the changes the CRM refused."""

    approved: bool
    counts: dict[str, ObjectCounts]
    failures: tuple[FailedChange, ...] = ()


def owner_changes(
    assignments: pd.DataFrame,
    accounts: pd.DataFrame,
    contacts: pd.DataFrame,
    opportunities: pd.DataFrame,
    follow: FollowRules,
    objects: ObjectNames,
) -> list[OwnerChange]:
    """The records whose CRM owner is not their planned rep: moved accounts, then the contacts and deals that follow.

    `assignments` is the published plan (account_id, rep_id); the others are the canonical raw tables.
    Records already owned by the planned rep are left alone, so the changes of a written plan are none.
    """
    plan = assignments[["account_id", "rep_id"]].dropna()
    plan = plan.merge(accounts[["account_id", "owner_rep_id"]], on="account_id")
    moved = plan[plan["rep_id"] != plan["owner_rep_id"].fillna("")]
    moved = moved.rename(columns={"rep_id": "to_owner", "owner_rep_id": "previous_owner"})
    moved_accounts = moved.assign(record_id=moved["account_id"], from_owner=moved["previous_owner"])
    changed = [_changes(objects.account, moved_accounts)]
    if follow.contacts != "none":
        followers = _followers(contacts, moved, "contact_id")
        if follow.contacts == "previous_owner":
            followers = followers[followers["from_owner"].fillna("") == followers["previous_owner"].fillna("")]
        changed.append(_changes(objects.contact, followers))
    if follow.open_opportunities:
        open_deals = opportunities[~opportunities["is_closed"].fillna(False).astype(bool)]
        changed.append(_changes(objects.opportunity, _followers(open_deals, moved, "opportunity_id")))
    return [change for changes in changed for change in changes]


def _followers(records: pd.DataFrame, moved: pd.DataFrame, key: str) -> pd.DataFrame:
    """The records of moved accounts that their account's new owner does not own yet."""
    followers = records[[key, "account_id", "owner_rep_id"]].merge(moved, on="account_id")
    followers = followers.rename(columns={key: "record_id", "owner_rep_id": "from_owner"})
    return followers[followers["from_owner"].fillna("") != followers["to_owner"]]


def _changes(obj: str, rows: pd.DataFrame) -> list[OwnerChange]:
    columns = rows[["record_id", "account_id", "from_owner", "to_owner"]].astype(object)
    columns = columns.where(columns.notna(), None)
    return [OwnerChange(obj, *row) for row in columns.itertuples(index=False, name=None)]


def write_back(
    changes: Sequence[OwnerChange],
    push: Push,
    ledger: Path,
    *,
    batch_size: int,
    approve: bool,
    run: str = "",
    on_batch: Callable[[int, int], None] | None = None,
) -> WritebackReport:
    """Push `changes` in batches per object, each batch's results appended to `ledger` before the next.

    Each ledger line records the change, its result, when it was written and by which `run`.

    Without `approve` this is a dry run: it counts what would be written and calls nothing. Changes
    the ledger records as written are skipped; refused ones are counted and tried again next time.
    `on_batch(pushed, to_push)` follows the progress. A push that raises stops the write-back; the
    ledger then holds every batch pushed before it, and a re-run resumes from there.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    ledger = Path(ledger)
    done = _written(ledger)
    by_object: dict[str, list[OwnerChange]] = {}
    for change in changes:
        by_object.setdefault(change.object, []).append(change)
    pending = {obj: [c for c in planned if _key(c) not in done] for obj, planned in by_object.items()}
    counts = {obj: ObjectCounts(len(planned), len(planned) - len(pending[obj])) for obj, planned in by_object.items()}
    if not approve:
        return WritebackReport(False, counts)
    _drop_unfinished_line(ledger)
    failures: list[FailedChange] = []
    to_push, pushed = sum(map(len, pending.values())), 0
    for obj, waiting in pending.items():
        for start in range(0, len(waiting), batch_size):
            batch = waiting[start : start + batch_size]
            try:
                results = _matched(batch, push(obj, batch))
            except Exception as error:
                error.add_note(
                    f"write-back stopped at {obj} batch {start // batch_size + 1}: {pushed} of {to_push} "
                    f"changes were pushed and are in {ledger}; run it again to resume"
                )
                raise
            _append(ledger, batch, results, run)
            refused = [FailedChange(c, result.error or "refused") for c, result in zip(batch, results) if not result.ok]
            failures += refused
            before = counts[obj]
            written, failed = before.written + len(batch) - len(refused), before.failed + len(refused)
            counts[obj] = replace(before, written=written, failed=failed)
            pushed += len(batch)
            if on_batch is not None:
                on_batch(pushed, to_push)
    return WritebackReport(True, counts, tuple(failures))


def _key(change: OwnerChange) -> tuple[str, str, str]:
    # The new owner is part of the key: a later plan that moves the record again is a new change.
    return change.object, change.record_id, change.to_owner


def _matched(batch: list[OwnerChange], results: list[PushResult]) -> list[PushResult]:
    """The push's result for each change of the batch, in order; a change it gave no result for counts as refused."""
    by_id = {result.record_id: result for result in results}
    missing = "the push returned no result for this record"
    return [by_id.get(c.record_id, PushResult(c.record_id, False, missing)) for c in batch]


def _written(ledger: Path) -> set[tuple[str, str, str]]:
    """The changes the ledger records as written; an unfinished last line (a crash while writing it) does not count."""
    if not ledger.exists():
        return set()
    lines = ledger.read_text(encoding="utf-8").split("\n")[:-1]  # what follows the last newline is unfinished
    written = set()
    for number, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            raise ValueError(
                f"line {number} of {ledger} is not a write-back ledger entry; restore the file, or move it aside "
                "to start afresh (changes it recorded would then be sent again)"
            ) from None
        if entry["ok"]:
            written.add((entry["object"], entry["record_id"], entry["to"]))
    return written


def _drop_unfinished_line(ledger: Path) -> None:
    """Cut an unfinished last line off the ledger, so that the next batch starts on a line of its own."""
    if ledger.exists():
        content = ledger.read_bytes()
        finished = content.rfind(b"\n") + 1
        if finished < len(content):
            with ledger.open("r+b") as file:
                file.truncate(finished)


def _append(ledger: Path, batch: list[OwnerChange], results: list[PushResult], run: str) -> None:
    """Append one line per change of the batch and its result, and force them to disk."""
    written_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    lines = "".join(
        json.dumps(
            {
                "object": change.object,
                "record_id": change.record_id,
                "from": change.from_owner,
                "to": change.to_owner,
                "ok": result.ok,
                "error": result.error,
                "written_at": written_at,
                "run": run,
            }
        )
        + "\n"
        for change, result in zip(batch, results)
    )
    ledger.parent.mkdir(parents=True, exist_ok=True)
    with ledger.open("a", encoding="utf-8") as file:
        file.write(lines)
        file.flush()
        os.fsync(file.fileno())


def data_loader_files(changes: Sequence[OwnerChange], folder: Path) -> list[Path]:
    """Salesforce Data Loader update files, one `<Object>.csv` (Id,OwnerId) per object changed, written atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame([(c.object, c.record_id, c.to_owner) for c in changes], columns=["object", "Id", "OwnerId"])
    paths = []
    for obj, rows in frame.groupby("object", sort=False):
        path = folder / f"{obj}.csv"
        _write_atomically(path, rows[["Id", "OwnerId"]].to_csv(index=False, lineterminator="\n"))
        paths.append(path)
    return paths


def _write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file renamed over it: a reader sees the old file or the new one."""
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
    ) as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    try:
        os.replace(file.name, path)
    except BaseException:
        os.unlink(file.name)
        raise
