"""`territory status` on the CRM sources and write-backs of a home: records, watermarks, landings, ledgers."""

import json

import pandas as pd

from pipelines.status import print_status, source_status, writeback_status
from territory.contract import RAW_TABLES
from territory.paths import TerritoryHome
from territory.sources.canonical import UNMAPPED_COLUMNS, CanonicalExtract, land_canonical
from territory.sources.object_store import ObjectStore


def test_each_source_shows_its_objects_watermarks_and_unmapped_values(tmp_path):
    home = TerritoryHome(tmp_path)
    store = ObjectStore(home.sources / "salesforce-api" / "objects")
    with store.pull() as pull:
        pull.upsert("Account", pd.DataFrame({"Id": ["a", "b"], "SystemModstamp": ["2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z"]}))
    unmapped = pd.DataFrame([["Opportunity", "StageName", "Discovery", 3, "stage set by IsClosed"]], columns=list(UNMAPPED_COLUMNS))
    empty = {table.name: pd.DataFrame({column: [] for column in table.columns}) for table in RAW_TABLES}
    land_canonical(CanonicalExtract(empty, unmapped), home.sources / "salesforce-api" / "landed")
    (home.sources / "demo" / "40x4-seed3-2026-06-30").mkdir(parents=True)  # the demo cache is not a CRM source

    [source] = source_status(home)
    assert source["source"] == "salesforce-api" and source["unmapped_values"] == 1 and source["landed_at"]
    assert source["objects"] == [{"object": "Account", "records": 2, "watermark": "2026-06-02T00:00:00Z"}]


def test_each_api_write_back_shows_what_it_wrote_and_refused(tmp_path):
    home = TerritoryHome(tmp_path)
    ledger = home.writeback / "salesforce" / "2026-06-30.jsonl"
    ledger.parent.mkdir(parents=True)
    lines = [{"object": "Account", "record_id": f"A{n}", "from": "R1", "to": "R2", "ok": n != 3, "error": None,
              "written_at": f"2026-07-01T0{n}:00:00+00:00", "run": "wb1"} for n in range(1, 4)]
    ledger.write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"object": "Acc')  # a crash mid-line

    [written] = writeback_status(home)
    assert (written["crm"], written["snapshot_date"], written["written"], written["refused"]) == ("salesforce", "2026-06-30", 2, 1)
    assert written["last_written_at"] == "2026-07-01T03:00:00+00:00"

    printed = []
    published = {"analytics": None, "dates": 0, "report": None}
    print_status({"home": str(tmp_path), "published": published, "runs": [], "dagster_home": "-", "backfills": [],
                  "sources": source_status(home), "writebacks": writeback_status(home)}, printed.append)
    assert any("salesforce plan of 2026-06-30: 2 written, 1 refused" in line for line in printed)
