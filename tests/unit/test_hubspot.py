"""The HubSpot source: its objects mapped to the canonical contract, its export files, and owner import files.

The fixture tests/fixtures/hubspot_export/ is crm_small exported from HubSpot (see its README.md): mapped
back, it must give crm_small again, up to HubSpot's ids and the documented fallbacks.
"""

import shutil

import pandas as pd
import pytest
from fixtures.make_hubspot_export import EXPORT, typed_tables, write_expected_canonical, write_export

from territory.raw_loader import SourceError
from territory.sources.canonical import read_unmapped
from territory.sources.hubspot import (
    COMPANY_ASSOCIATED,
    HubSpotMapping,
    RepProfiles,
    association_pairs,
    associations_of,
    hubspot_import_files,
    land_export,
    read_export,
    read_rep_profiles,
    to_canonical,
)
from territory.sources.writeback import OwnerChange

ANA, BEN = "ana.lima@example.com", "ben.okafor@example.com"


def assert_same_tables(actual, expected) -> None:
    for name in expected:
        pd.testing.assert_frame_equal(actual[name], expected[name], obj=name)


def portal(**objects) -> dict[str, pd.DataFrame]:
    """A small portal: owners Ana (1) and Ben (2, archived), company 100; `objects` add or replace frames."""
    frames = {
        "owners": pd.DataFrame({"id": ["1", "2"], "email": [ANA, BEN], "firstName": ["Ana", "Ben"],
                                "lastName": ["Lima", "Okafor"], "userId": ["9", "8"], "archived": ["false", "true"]}),
        "companies": pd.DataFrame({"hs_object_id": ["100"]}),
        **{obj: pd.DataFrame({"hs_object_id": pd.Series([], dtype=object)}) for obj in COMPANY_ASSOCIATED},
    } | objects
    return frames | {associations_of(obj): association_pairs(frames[obj]) for obj in COMPANY_ASSOCIATED}


PROFILES = RepProfiles(pd.DataFrame({"email": [ANA, BEN], "role": ["account_executive", "inside_sales_rep"],
                                     "segment": ["enterprise", "smb"], "region": ["us_west", "us_east"],
                                     "home_latitude": ["45.5", "40.7"], "home_longitude": ["-122.6", "-74.0"],
                                     "capacity_hours": ["1500", "1600"], "hire_date": ["2020-01-06", "2021-03-01"],
                                     "industries": ["Software", "Retail"], "languages": ["en", "en;es"],
                                     "manager_email": [None, ANA]}))


def listed(values: pd.Series) -> list:
    """The values as a list, missing ones as None."""
    return values.astype(object).where(values.notna(), None).tolist()


def unmapped_lines(unmapped: pd.DataFrame) -> list[tuple]:
    return sorted(map(tuple, unmapped.astype({"records": int}).itertuples(index=False)))


# ---------------------------------------------------------------------------------------------- the fixture


def test_the_export_of_crm_small_maps_back_to_crm_small(tmp_path):
    landed = land_export(EXPORT, tmp_path / "landed")
    write_expected_canonical(tmp_path / "expected")
    assert_same_tables(typed_tables(landed), typed_tables(tmp_path / "expected"))
    assert unmapped_lines(read_unmapped(landed)) == [
        ("companies", "lifecyclestage", "Former customer", 1,
         "lifecycle_stage left empty (not a stage the mapping knows)"),
        ("deals", "dealstage", "Verbal commit", 1, "stage set to 'qualification' (open)"),
    ]


def test_a_mapping_that_knows_the_custom_stages_maps_them_and_reports_nothing(tmp_path):
    mapping = HubSpotMapping(lifecycle_stages=HubSpotMapping().lifecycle_stages | {"Former customer": "churned"},
                             deal_stages=HubSpotMapping().deal_stages | {"Verbal commit": "negotiation"})
    landed = land_export(EXPORT, tmp_path / "landed", mapping)
    write_expected_canonical(tmp_path / "expected", knows_custom_stages=True)
    assert_same_tables(typed_tables(landed), typed_tables(tmp_path / "expected"))
    assert read_unmapped(landed).empty


def test_the_committed_export_is_what_the_generator_writes(tmp_path):
    write_export(tmp_path)
    assert sorted(path.name for path in tmp_path.glob("*.csv")) == sorted(path.name for path in EXPORT.glob("*.csv"))
    for path in EXPORT.glob("*.csv"):
        assert (tmp_path / path.name).read_text() == path.read_text(), f"{path.name}: run make_hubspot_export.py"


# ---------------------------------------------------------------------------------------------- the mapping


def test_lifecycle_stages_match_by_internal_value_or_label_and_the_unknown_are_reported():
    companies = pd.DataFrame({"hs_object_id": ["1", "2", "3", "4", "5", "6"],
                              "lifecyclestage": ["salesqualifiedlead", "Marketing Qualified Lead", "evangelist",
                                                 "subscriber", "other", None]})
    extract = to_canonical(portal(companies=companies), PROFILES)
    assert listed(extract.tables["accounts"]["lifecycle_stage"]) == ["sql", "mql", "customer", "lead", None, None]
    assert unmapped_lines(extract.unmapped) == [
        ("companies", "lifecyclestage", "other", 1, "lifecycle_stage left empty (not a stage the mapping knows)")]


def test_deal_stages_and_the_fallbacks_for_stages_the_mapping_lacks():
    deals = pd.DataFrame({
        "hs_object_id": ["1", "2", "3", "4", "5", "6", "7"],
        "dealstage": ["closedwon", "Contract Sent", "decisionmakerboughtin", "won_custom", "lost_custom", "open_custom",
                      "open_custom"],
        "hs_is_closed": ["true", "false", "false", "true", "true", "false", None],
        "hs_is_closed_won": ["true", "false", "false", "true", "false", "false", None],
        "closed_lost_reason": [None, None, None, None, "price", None, None],
    })
    extract = to_canonical(portal(deals=deals), PROFILES)
    opportunities = extract.tables["opportunities"]
    assert opportunities["stage"].tolist() == ["closed_won", "negotiation", "negotiation", "closed_won", "closed_lost",
                                               "qualification", "qualification"]
    assert opportunities["is_closed"].tolist() == [True, False, False, True, True, False, False]
    assert opportunities["is_won"].tolist() == [True, False, False, True, False, False, False]
    assert opportunities["loss_reason"].tolist()[4] == "price"
    assert [line for line in unmapped_lines(extract.unmapped) if line[1] == "dealstage"] == [
        ("deals", "dealstage", "lost_custom", 1, "stage set to 'closed_lost' (hs_is_closed is true)"),
        ("deals", "dealstage", "open_custom", 2, "stage set to 'qualification' (open)"),
        ("deals", "dealstage", "won_custom", 1, "stage set to 'closed_won' (hs_is_closed_won is true)"),
    ]


def test_seniority_comes_from_the_configured_property_else_from_the_job_title():
    contacts = pd.DataFrame({
        "hs_object_id": [str(n) for n in range(8)],
        "jobtitle": ["Chief Revenue Officer", "CFO", "Senior Vice President, Sales", "Head of IT", "Sales Manager",
                     "Account Executive", None, "Engineer"],
        "hs_seniority": [None, None, None, None, None, None, None, "director"],
    })
    extract = to_canonical(portal(contacts=contacts), PROFILES, HubSpotMapping(seniority_property="hs_seniority"))
    assert listed(extract.tables["contacts"]["seniority"]) == [
        "c_level", "c_level", "vp", "director", "manager", "individual_contributor", None, "director"]
    assert ("contacts", "jobtitle", "", 1, "seniority left empty (no job title)") in unmapped_lines(extract.unmapped)


def test_calls_emails_and_meetings_become_typed_activities_with_minutes():
    calls = pd.DataFrame({"hs_object_id": ["1", "2", "3", "4"], "hubspot_owner_id": "1",
                          "hs_timestamp": "2026-05-04T09:30:00.000Z",
                          "hs_call_disposition": ["b2cf5968-551e-4856-9783-52b3da59a7d0", "Left voicemail",
                                                  "f240bbac-87c9-4f6e-bf70-924b57d47db7", None],
                          "hs_call_duration": ["60000", "100000", "1500000", None]})
    emails = pd.DataFrame({"hs_object_id": ["5"], "hs_timestamp": "2026-05-04T10:00:00Z"})
    meetings = pd.DataFrame({
        "hs_object_id": ["6", "7", "8"], "hs_timestamp": "2026-05-05T14:00:00.000Z",
        "hs_meeting_location": ["https://zoom.us/j/123", "Acme HQ, Boston", None],
        "hs_meeting_start_time": "2026-05-05T14:00:00.000Z",
        "hs_meeting_end_time": ["2026-05-05T14:45:00.000Z", "2026-05-05T15:30:00.000Z", "2026-05-05T14:30:00.000Z"],
    })
    extract = to_canonical(portal(calls=calls, emails=emails, meetings=meetings), PROFILES,
                           HubSpotMapping(email_minutes=4))
    activities = extract.tables["activities"].set_index("activity_id")
    assert activities["activity_type"].to_dict() == {
        "1": "voicemail", "2": "voicemail", "3": "call", "4": "call", "5": "email",
        "6": "meeting_online", "7": "meeting_in_person", "8": "meeting_online"}
    assert dict(zip(activities.index, listed(activities["duration_minutes"]))) == {
        "1": 1, "2": 2, "3": 25, "4": None, "5": 4, "6": 45, "7": 90, "8": 30}
    assert activities.loc["1", "occurred_at"] == pd.Timestamp("2026-05-04 09:30:00")
    lines = unmapped_lines(extract.unmapped)
    assert ("calls", "hs_call_duration", "", 1, "duration_minutes left empty (no call duration)") in lines
    assert ("meetings", "hs_meeting_location", "", 1, "activity_type set to 'meeting_online' (no location)") in lines


def test_records_keep_their_primary_company_and_unknown_owners_are_left_empty():
    deals = pd.DataFrame({"hs_object_id": ["1", "2", "3"], "dealstage": "closedwon",
                          "hubspot_owner_id": ["1", "2", "77"],
                          "associated_company_ids": ["100;200", "300", None],
                          "primary_company_id": ["200", None, None]})
    extract = to_canonical(portal(deals=deals), PROFILES)
    opportunities = extract.tables["opportunities"]
    assert listed(opportunities["account_id"]) == ["200", "300", None]
    assert listed(opportunities["owner_rep_id"]) == ["1", "2", None]  # 2 is archived, still an owner
    lines = unmapped_lines(extract.unmapped)
    assert ("deals", "hubspot_owner_id", "77", 1, "owner left empty (no such HubSpot owner)") in lines
    assert ("deals", "associations.companies", "", 1, "account_id left empty (no associated company)") in lines


def test_companies_get_country_codes_numbers_and_times():
    companies = pd.DataFrame({"hs_object_id": ["1", "2", "3"], "country": ["United States", "de", "Narnia"],
                              "numberofemployees": ["250", "12.0", "a few"], "annualrevenue": ["1000000.5", None, "9"],
                              "createdate": ["2021-07-26T01:10:56.000Z", "2021-07-26T01:10:56Z", "yesterday"]})
    extract = to_canonical(portal(companies=companies), PROFILES)
    accounts = extract.tables["accounts"]
    assert accounts["country"].tolist() == ["US", "DE", "Narnia"]
    assert accounts["employees"].tolist()[:2] == [250, 12] and pd.isna(accounts["employees"].iloc[2])
    assert accounts["annual_revenue"].tolist()[0] == 1000000.5
    assert accounts["created_at"].tolist()[:2] == [pd.Timestamp("2021-07-26 01:10:56")] * 2
    assert unmapped_lines(extract.unmapped) == [
        ("companies", "country", "Narnia", 1, "country kept as written (not a known country)"),
        ("companies", "createdate", "yesterday", 1, "left empty (not an ISO 8601 time)"),
        ("companies", "numberofemployees", "a few", 1, "left empty (not a number)"),
    ]


def test_reps_are_owners_with_their_profiles_and_defaults_where_a_profile_is_missing():
    owners = pd.DataFrame({"id": ["1", "2", "3"], "email": [ANA, BEN, "cy@example.com"],
                           "firstName": ["Ana", "Ben", "Cy"],
                           "lastName": ["Lima", "Okafor", None], "userId": ["9", "8", "7"],
                           "archived": ["false", "true", "false"]})
    quotas = pd.DataFrame({"owner_email": [ANA.upper(), "gone@example.com"], "period_start": ["2026-01-01"] * 2,
                           "period_end": ["2026-03-31"] * 2, "quota_amount": ["100000", "5"]})
    profiles = RepProfiles(PROFILES.profiles, quotas=quotas)
    extract = to_canonical(portal(owners=owners), profiles)
    reps = extract.tables["reps"].set_index("rep_id")
    assert reps["name"].to_dict() == {"1": "Ana Lima", "2": "Ben Okafor", "3": "Cy"}
    assert reps["is_active"].to_dict() == {"1": True, "2": False, "3": True}
    assert pd.isna(reps.loc["1", "manager_id"]) and reps.loc["2", "manager_id"] == "1"
    assert reps.loc["1", "capacity_hours"] == 1500.0 and reps.loc["2", "languages"] == "en;es"
    assert reps.loc["3", ["role", "segment", "capacity_hours", "languages"]].tolist() == [
        "account_executive", "mid_market", 1600.0, "en"]
    assert pd.isna(reps.loc["3", "region"]) and pd.isna(reps.loc["3", "home_latitude"])
    assert extract.tables["quotas"]["rep_id"].tolist()[0] == "1" and pd.isna(extract.tables["quotas"]["rep_id"].iloc[1])
    lines = unmapped_lines(extract.unmapped)
    assert ("rep_profiles.csv", "segment", "cy@example.com", 1,
            "segment set to 'mid_market' (no value in rep_profiles.csv)") in lines
    assert ("rep_profiles.csv", "region", "cy@example.com", 1,
            "region left empty (no value in rep_profiles.csv)") in lines
    assert ("quotas.csv", "owner_email", "gone@example.com", 1,
            "rep_id left empty (no HubSpot owner has this email)") in lines
    assert len([line for line in lines if line[0] == "rep_profiles.csv"]) == 9  # every attribute of Cy, nothing else


def test_to_canonical_names_the_objects_it_lacks():
    objects = portal()
    del objects["meetings"]
    with pytest.raises(SourceError, match="the HubSpot records lack meetings; read them with read_export"):
        to_canonical(objects, PROFILES)


# ---------------------------------------------------------------------------------------------- export files


@pytest.fixture()
def export(tmp_path):
    return shutil.copytree(EXPORT, tmp_path / "export")


def test_export_owners_are_resolved_by_id_email_or_name_and_times_from_the_portal_time_zone(export):
    companies = pd.read_csv(export / "companies.csv", dtype=str)
    companies.loc[:3, "Company owner"] = ["70000002", "JORDAN.LOPEZ4@sales.territory-demo.example", "Aisha Haddad",
                                          "Nobody Known"]
    companies.loc[0, "Create Date"] = "2021-07-26 01:10"
    companies.to_csv(export / "companies.csv", index=False)
    objects = read_export(export, timezone="America/New_York")
    assert objects["companies"]["hubspot_owner_id"].tolist()[:4] == ["70000002", "70000004", "70000001", "Nobody Known"]
    assert objects["companies"]["createdate"].iloc[0] == "2021-07-26T05:10:00Z"  # EDT is UTC-4
    assert objects["companies"].columns[-2:].tolist() == ["latitude", "longitude"]
    assert objects["deals"]["product_line"].iloc[0] == "core_platform"


def test_an_export_folder_without_every_file_or_record_id_is_refused_plainly(export):
    (export / "meetings.csv").unlink()
    with pytest.raises(SourceError, match=r"has no HubSpot export file\(s\) meetings.csv: export each object"):
        read_export(export)
    pd.read_csv(EXPORT / "meetings.csv").drop(columns="Record ID").to_csv(export / "meetings.csv", index=False)
    with pytest.raises(SourceError, match=r"meetings.csv: missing column\(s\) Record ID"):
        read_export(export)


def test_rep_profiles_need_a_profiles_file_with_emails(tmp_path):
    with pytest.raises(SourceError, match="has no rep_profiles.csv: write one line per rep"):
        read_rep_profiles(tmp_path)
    (tmp_path / "rep_profiles.csv").write_text("owner,segment\nana,smb\n")
    with pytest.raises(SourceError, match=r"rep_profiles.csv: missing column\(s\) email"):
        read_rep_profiles(tmp_path)
    profiles = read_rep_profiles(EXPORT)
    assert len(profiles.profiles) == 4 and len(profiles.quotas) == 24 and len(profiles.assessments) == 8


# ---------------------------------------------------------------------------------------------- import files


def test_import_files_set_owners_by_email_one_file_per_object(tmp_path):
    owners = pd.DataFrame({"id": ["1", "2"], "email": [ANA, BEN]})
    changes = [
        OwnerChange("deals", "900", "100", "1", "2"),
        OwnerChange("companies", "100", "100", "1", "2"),
        OwnerChange("companies", "101", "101", None, "1"),
    ]
    paths = hubspot_import_files(changes, tmp_path / "out", owners)
    assert [path.name for path in paths] == ["hubspot_import_companies_owners.csv", "hubspot_import_deals_owners.csv"]
    assert paths[0].read_text() == f"Record ID,Company owner\n100,{BEN}\n101,{ANA}\n"
    assert paths[1].read_text() == f"Record ID,Deal owner\n900,{BEN}\n"
    assert hubspot_import_files([], tmp_path / "none", owners) == []


def test_import_files_refuse_owners_without_email_and_objects_the_import_cannot_update(tmp_path):
    owners = pd.DataFrame({"id": ["1", "2"], "email": [ANA, None]})
    with pytest.raises(SourceError, match="owner\\(s\\) 2 have no email in HubSpot's owners"):
        hubspot_import_files([OwnerChange("companies", "100", "100", "1", "2")], tmp_path, owners)
    with pytest.raises(SourceError, match="covers companies, contacts, deals, not tickets"):
        hubspot_import_files([OwnerChange("tickets", "5", "100", "1", "1")], tmp_path, owners)
