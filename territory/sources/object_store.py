"""A source's local copy of the CRM's objects, kept current by incremental pulls.

Each object (Salesforce `Account`, HubSpot `companies`, ...) is one Parquet file of records keyed
by their id, beside a `watermarks.json` holding, per object, the largest modification stamp seen.
A nightly pull asks the CRM only for records modified at or after the watermark (at, because
several records can share a stamp; applying a record twice changes nothing), upserts them, and
removes the records the CRM reports deleted.

A pull is all or nothing: changes collect in a `Pull` and are written, every object at once, only
when the pull completes. A pull that fails part way (a page that errors, a lost connection)
leaves the store, and so the last good raw data, exactly as it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from territory.sources.canonical import replace_folder

WATERMARKS_FILE = "watermarks.json"


@dataclass
class _ObjectChanges:
    key: str
    stamp_field: str | None
    upserts: list[pd.DataFrame] = field(default_factory=list)
    deleted: set[str] = field(default_factory=set)


class ObjectStore:
    """The records of each object under `folder`, and the watermark of each object's last pull."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def watermark(self, obj: str) -> str | None:
        """The largest modification stamp pulled for `obj`, as the CRM wrote it; None before the first pull."""
        return self._watermarks().get(obj)

    def records(self, obj: str) -> pd.DataFrame:
        """Every record of `obj` held now (an empty frame before the first pull)."""
        path = self.folder / f"{obj}.parquet"
        return pd.read_parquet(path) if path.exists() else pd.DataFrame()

    @contextmanager
    def pull(self) -> Iterator[Pull]:
        """Collect a pull's changes; write them all when the block completes, nothing if it raises."""
        pull = Pull()
        yield pull
        if pull.changes:
            self._apply(pull)

    def _watermarks(self) -> dict[str, str]:
        path = self.folder / WATERMARKS_FILE
        return json.loads(path.read_text()) if path.exists() else {}

    def _apply(self, pull: Pull) -> None:
        watermarks = self._watermarks()
        merged: dict[str, pd.DataFrame] = {}
        for obj, changes in pull.changes.items():
            fresh = _merge(self.records(obj), changes)
            merged[obj] = fresh.records
            if changes.stamp_field and fresh.newest_stamp is not None:
                watermarks[obj] = max(fresh.newest_stamp, watermarks.get(obj, fresh.newest_stamp))

        def write(staging: Path) -> None:
            for path in self.folder.glob("*.parquet") if self.folder.exists() else ():
                if path.stem not in merged:
                    (staging / path.name).hardlink_to(path)
            for obj, frame in merged.items():
                frame.reset_index(drop=True).to_parquet(staging / f"{obj}.parquet", index=False)
            (staging / WATERMARKS_FILE).write_text(json.dumps(watermarks, indent=2, sort_keys=True))

        replace_folder(self.folder, write)


@dataclass(frozen=True)
class _Merged:
    records: pd.DataFrame
    newest_stamp: str | None


def _merge(held: pd.DataFrame, changes: _ObjectChanges) -> _Merged:
    """`held` with the changed records replaced and the deleted ones removed (a deletion wins)."""
    fresh = pd.concat(changes.upserts, ignore_index=True) if changes.upserts else pd.DataFrame(columns=[changes.key])
    fresh = fresh.drop_duplicates(subset=changes.key, keep="last")
    newest = None
    if changes.stamp_field in fresh and fresh[changes.stamp_field].notna().any():
        newest = str(fresh[changes.stamp_field].dropna().astype(str).max())
    fresh = fresh[~fresh[changes.key].astype(str).isin(changes.deleted)]
    if held.empty:
        return _Merged(fresh.reset_index(drop=True), newest)
    replaced = changes.deleted | set(fresh[changes.key].astype(str))
    kept = held[~held[changes.key].astype(str).isin(replaced)]
    parts = [frame for frame in (kept, fresh) if not frame.empty]
    return _Merged(pd.concat(parts, ignore_index=True) if parts else held.iloc[0:0], newest)


class Pull:
    """The changes of one pull, per object: records upserted by key, ids deleted."""

    def __init__(self) -> None:
        self.changes: dict[str, _ObjectChanges] = {}

    def upsert(self, obj: str, records: pd.DataFrame, key: str = "Id", stamp_field: str | None = "SystemModstamp") -> None:
        """Add or replace `records` of `obj` by `key`; `stamp_field` advances the object's watermark."""
        self._changes(obj, key, stamp_field).upserts.append(records)

    def delete(self, obj: str, ids: Iterable[str], key: str = "Id") -> None:
        """Remove the records of `obj` whose `key` is in `ids` (those the CRM reports deleted)."""
        self._changes(obj, key, None).deleted.update(str(i) for i in ids)

    def _changes(self, obj: str, key: str, stamp_field: str | None) -> _ObjectChanges:
        changes = self.changes.setdefault(obj, _ObjectChanges(key, stamp_field))
        if stamp_field and not changes.stamp_field:
            changes.stamp_field = stamp_field
        return changes


@dataclass(frozen=True)
class ObjectPull:
    """What one pull read of one Salesforce object (through the API or a replica)."""

    object: str
    fetched: int  # records created or modified since the last pull (every record on the first)
    deleted: int  # records deleted since the last pull, removed from the store
    pages: int  # query pages read for the fetched records
    watermark: str | None  # the object's watermark after the pull
    missing_fields: tuple[str, ...] = ()  # optional fields the org lacks (or hides from the signed-in user)
    in_org: bool = True  # False for an optional object the org does not have


@dataclass(frozen=True)
class PullReport:
    """What one pull read, per object."""

    objects: Mapping[str, ObjectPull]

    @property
    def pulled(self) -> list[str]:
        """The objects the org has, whose records the store now holds."""
        return [name for name, pulled in self.objects.items() if pulled.in_org]
