"""Write-back: which owners change, dry runs, batches, the ledger that makes it resumable, Data Loader files."""

import json

import pandas as pd
import pytest

from territory.sources.writeback import (
    HUBSPOT_OBJECT_NAMES,
    SALESFORCE_OBJECT_NAMES,
    FollowRules,
    ObjectCounts,
    OwnerChange,
    PushResult,
    data_loader_files,
    owner_changes,
    write_back,
)

# A1 moves from R1 to R2, A2 and A4 stay, A3 has no owner and goes to R3; A5 is not in the plan.
ASSIGNMENTS = pd.DataFrame({"account_id": ["A1", "A2", "A3", "A4"], "rep_id": ["R2", "R2", "R3", "R1"]})
ACCOUNTS = pd.DataFrame({"account_id": ["A1", "A2", "A3", "A4", "A5"], "owner_rep_id": ["R1", "R2", None, "R1", "R1"]})
CONTACTS = pd.DataFrame(
    {
        "contact_id": ["C1", "C2", "C3", "C4", "C5"],
        "account_id": ["A1", "A1", "A1", "A2", "A3"],
        "owner_rep_id": ["R1", "R9", "R2", "R1", None],
    }
)
OPPORTUNITIES = pd.DataFrame(
    {
        "opportunity_id": ["O1", "O2", "O3", "O4"],
        "account_id": ["A1", "A1", "A1", "A2"],
        "owner_rep_id": ["R1", "R1", "R2", "R1"],
        "is_closed": [False, True, False, False],
    }
)


def changes_of(follow: FollowRules, objects=SALESFORCE_OBJECT_NAMES, contacts=CONTACTS, accounts=ACCOUNTS, deals=OPPORTUNITIES):
    return owner_changes(ASSIGNMENTS, accounts, contacts, deals, follow, objects)


def test_moved_accounts_take_the_previous_owners_contacts_and_their_open_deals_along():
    assert changes_of(FollowRules()) == [
        OwnerChange("Account", "A1", "A1", "R1", "R2"),
        OwnerChange("Account", "A3", "A3", None, "R3"),
        OwnerChange("Contact", "C1", "A1", "R1", "R2"),
        OwnerChange("Contact", "C5", "A3", None, "R3"),  # unowned, like its account
        OwnerChange("Opportunity", "O1", "A1", "R1", "R2"),
    ]


def test_follow_rules_decide_which_contacts_and_deals_move():
    every_contact = changes_of(FollowRules(contacts="all", open_opportunities=False))
    assert [(c.object, c.record_id, c.from_owner) for c in every_contact] == [
        ("Account", "A1", "R1"), ("Account", "A3", None), ("Contact", "C1", "R1"), ("Contact", "C2", "R9"), ("Contact", "C5", None),
    ]  # fmt: skip
    accounts_only = changes_of(FollowRules(contacts="none", open_opportunities=False), HUBSPOT_OBJECT_NAMES)
    assert accounts_only == [OwnerChange("companies", "A1", "A1", "R1", "R2"), OwnerChange("companies", "A3", "A3", None, "R3")]
    with pytest.raises(ValueError, match="contacts must be one of all, previous_owner, none, got 'some'"):
        FollowRules(contacts="some")


def test_a_written_plan_changes_nothing_more():
    changes = changes_of(FollowRules(contacts="all"))
    new_owner = {(c.object, c.record_id): c.to_owner for c in changes}

    def applied(table, obj, key):
        owners = table[key].map(lambda record: new_owner.get((obj, record)))
        return table.assign(owner_rep_id=owners.fillna(table["owner_rep_id"]))

    after = changes_of(
        FollowRules(contacts="all"),
        contacts=applied(CONTACTS, "Contact", "contact_id"),
        accounts=applied(ACCOUNTS, "Account", "account_id"),
        deals=applied(OPPORTUNITIES, "Opportunity", "opportunity_id"),
    )
    assert after == []


class FakeCrm:
    """A push that records its calls, refuses some records, and can lose its connection on a given call."""

    def __init__(self, refuse: set[str] = frozenset(), fail_on_call: int | None = None):
        self.calls: list[tuple[str, list[str]]] = []
        self.refuse, self.fail_on_call = refuse, fail_on_call

    def __call__(self, obj: str, batch: list[OwnerChange]) -> list[PushResult]:
        if self.fail_on_call == len(self.calls) + 1:
            raise ConnectionError("CRM unreachable")
        self.calls.append((obj, [c.record_id for c in batch]))
        return [PushResult(c.record_id, c.record_id not in self.refuse, "owner is inactive" if c.record_id in self.refuse else None)
                for c in batch]  # fmt: skip


ACCOUNT_CHANGES = [OwnerChange("Account", f"A{i}", f"A{i}", "R1", "R2") for i in range(1, 6)]
CHANGES = [*ACCOUNT_CHANGES, OwnerChange("Contact", "C1", "A1", "R1", "R2")]


def ledger_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_dry_run_counts_what_would_change_and_calls_nothing(tmp_path):
    crm, progress = FakeCrm(), []
    report = write_back(CHANGES, crm, tmp_path / "ledger.jsonl", batch_size=2, approve=False, on_batch=lambda *p: progress.append(p))
    assert crm.calls == [] and progress == [] and not (tmp_path / "ledger.jsonl").exists()
    assert not report.approved
    assert report.counts == {"Account": ObjectCounts(planned=5), "Contact": ObjectCounts(planned=1)}
    assert report.counts["Account"].to_write == 5


def test_approved_it_pushes_in_batches_per_object_and_records_each_in_the_ledger(tmp_path):
    crm, progress, ledger = FakeCrm(), [], tmp_path / "writeback" / "ledger.jsonl"
    report = write_back(CHANGES, crm, ledger, batch_size=2, approve=True, run="wb-1", on_batch=lambda *p: progress.append(p))
    assert crm.calls == [("Account", ["A1", "A2"]), ("Account", ["A3", "A4"]), ("Account", ["A5"]), ("Contact", ["C1"])]
    assert progress == [(2, 6), (4, 6), (5, 6), (6, 6)]
    assert report.counts == {"Account": ObjectCounts(5, 0, 5, 0), "Contact": ObjectCounts(1, 0, 1, 0)}
    lines = ledger_lines(ledger)
    assert [(line["object"], line["record_id"], line["from"], line["to"], line["ok"], line["error"]) for line in lines[-2:]] == [
        ("Account", "A5", "R1", "R2", True, None), ("Contact", "C1", "R1", "R2", True, None),
    ]  # fmt: skip
    assert all(line["written_at"].endswith("+00:00") and line["run"] == "wb-1" for line in lines)
    again = write_back(CHANGES, crm, ledger, batch_size=2, approve=True)
    assert len(crm.calls) == 4 and again.counts["Account"] == ObjectCounts(5, 5, 0, 0)


def test_a_push_that_fails_on_batch_two_stops_and_the_rerun_sends_only_the_rest(tmp_path):
    ledger = tmp_path / "ledger.jsonl"
    with pytest.raises(ConnectionError, match="CRM unreachable") as raised:
        write_back(CHANGES, FakeCrm(fail_on_call=2), ledger, batch_size=2, approve=True)
    assert f"write-back stopped at Account batch 2: 2 of 6 changes were pushed and are in {ledger}" in raised.value.__notes__[0]
    assert [line["record_id"] for line in ledger_lines(ledger)] == ["A1", "A2"]
    crm = FakeCrm()
    report = write_back(CHANGES, crm, ledger, batch_size=2, approve=True)
    assert crm.calls == [("Account", ["A3", "A4"]), ("Account", ["A5"]), ("Contact", ["C1"])]
    assert report.counts == {"Account": ObjectCounts(5, 2, 3, 0), "Contact": ObjectCounts(1, 0, 1, 0)}


def test_refused_records_are_counted_reported_and_retried_on_the_next_run(tmp_path):
    ledger = tmp_path / "ledger.jsonl"
    first = write_back(CHANGES, FakeCrm(refuse={"A2", "C1"}), ledger, batch_size=10, approve=True)
    assert first.counts == {"Account": ObjectCounts(5, 0, 4, 1), "Contact": ObjectCounts(1, 0, 0, 1)}
    assert [(f.change.record_id, f.error) for f in first.failures] == [("A2", "owner is inactive"), ("C1", "owner is inactive")]
    assert [line["ok"] for line in ledger_lines(ledger)] == [True, False, True, True, True, False]
    crm = FakeCrm()
    second = write_back(CHANGES, crm, ledger, batch_size=10, approve=True)
    assert crm.calls == [("Account", ["A2"]), ("Contact", ["C1"])]
    assert second.counts == {"Account": ObjectCounts(5, 4, 1, 0), "Contact": ObjectCounts(1, 0, 1, 0)}
    assert second.failures == ()


def test_a_line_cut_short_by_a_crash_is_not_taken_as_written(tmp_path):
    ledger = tmp_path / "ledger.jsonl"
    write_back(ACCOUNT_CHANGES[:1], FakeCrm(), ledger, batch_size=10, approve=True)
    with ledger.open("a") as file:
        file.write('{"object": "Account", "record_id": "A2", "from": "R1", "to": "R2", "ok": tr')
    cut_short = ledger.read_bytes()
    dry_run = write_back(ACCOUNT_CHANGES[:2], FakeCrm(), ledger, batch_size=10, approve=False)
    assert dry_run.counts["Account"] == ObjectCounts(2, 1) and ledger.read_bytes() == cut_short  # a dry run writes nothing
    crm = FakeCrm()
    report = write_back(ACCOUNT_CHANGES[:2], crm, ledger, batch_size=10, approve=True)
    assert crm.calls == [("Account", ["A2"])] and report.counts["Account"] == ObjectCounts(2, 1, 1, 0)
    assert [line["record_id"] for line in ledger_lines(ledger)] == ["A1", "A2"]


def test_a_damaged_ledger_is_named_not_guessed_at(tmp_path):
    ledger = tmp_path / "ledger.jsonl"
    write_back(ACCOUNT_CHANGES[:1], FakeCrm(), ledger, batch_size=10, approve=True)
    ledger.write_text(ledger.read_text() + "garbage\n")
    with pytest.raises(ValueError, match=rf"^line 2 of {ledger} is not a write-back ledger entry; restore the file"):
        write_back(ACCOUNT_CHANGES, FakeCrm(), ledger, batch_size=10, approve=False)


def test_a_record_moved_again_by_a_later_plan_is_pushed_again(tmp_path):
    ledger = tmp_path / "ledger.jsonl"
    write_back(ACCOUNT_CHANGES[:1], FakeCrm(), ledger, batch_size=10, approve=True)
    crm = FakeCrm()
    write_back([OwnerChange("Account", "A1", "A1", "R2", "R3")], crm, ledger, batch_size=10, approve=True)
    assert crm.calls == [("Account", ["A1"])]


def test_a_change_the_push_gives_no_result_for_counts_as_refused(tmp_path):
    def forgetful(obj, batch):
        return [PushResult(batch[0].record_id, True)]

    report = write_back(ACCOUNT_CHANGES[:2], forgetful, tmp_path / "ledger.jsonl", batch_size=10, approve=True)
    assert report.counts["Account"] == ObjectCounts(2, 0, 1, 1)
    assert report.failures[0].error == "the push returned no result for this record"


def test_batch_size_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        write_back(CHANGES, FakeCrm(), tmp_path / "ledger.jsonl", batch_size=0, approve=False)


def test_data_loader_files_hold_id_and_owner_per_object(tmp_path):
    changes = [*CHANGES[:2], OwnerChange("Opportunity", "006Hn0000000001IAA", "A1", None, "005Hn0000000002IAA")]
    paths = data_loader_files(changes, tmp_path / "dataloader")
    assert [path.name for path in paths] == ["Account.csv", "Opportunity.csv"]
    assert paths[0].read_text() == "Id,OwnerId\nA1,R2\nA2,R2\n"
    assert paths[1].read_text() == "Id,OwnerId\n006Hn0000000001IAA,005Hn0000000002IAA\n"
    assert sorted(path.name for path in (tmp_path / "dataloader").iterdir()) == ["Account.csv", "Opportunity.csv"]  # no temporaries
    assert data_loader_files(changes[:1], tmp_path / "dataloader")[0].read_text() == "Id,OwnerId\nA1,R2\n"  # replaced whole
