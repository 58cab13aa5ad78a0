"""The CRM systems a deployment can pull from: Salesforce and HubSpot (exports and APIs) and a PostgreSQL replica.

Each maps the CRM's own records to the raw contract with its plan-file mapping (`sources` in
plan.yml) and lands them under TERRITORY_HOME/sources/<source>/: the API and replica sources keep
there a local copy of the CRM's objects that each pull brings up to date (`objects/`), and every
source lands the canonical tables (`landed/`) that ingest loads. Credentials are fields set from
environment variables (Dagster `EnvVar`, see pipelines/definitions.py); `describe()` never shows them.
"""

from __future__ import annotations

from pathlib import Path

from assets.resources import CrmSource
from territory.paths import TerritoryHome
from territory.plan import Plan
from territory.sources.writeback import Push


class SalesforceExportSource(CrmSource):
    """A Salesforce Data Export or Data Loader folder of `<Object>.csv` files."""

    path: str

    def land(self, home: TerritoryHome, plan: Plan) -> Path:
        from territory.sources.salesforce import land_export

        return land_export(Path(self.path).expanduser(), home.sources / "salesforce-export" / "landed",
                           plan.sources.salesforce.salesforce_mapping())

    def describe(self) -> str:
        return f"the Salesforce export in {Path(self.path).expanduser().resolve()}"


class SalesforceApiSource(CrmSource):
    """A Salesforce org through its REST API, pulled incrementally by SystemModstamp."""

    login_url: str
    client_id: str
    client_secret: str
    username: str = ""  # with a password: the username-password flow; without: client credentials
    password: str = ""
    api_version: str = "62.0"

    def land(self, home: TerritoryHome, plan: Plan) -> Path:
        from territory.sources.salesforce_api import land_api

        folder = home.sources / "salesforce-api"
        return land_api(folder / "objects", folder / "landed", self._credentials(),
                        plan.sources.salesforce.salesforce_mapping(), self._settings())

    def push(self) -> Push:
        """Owner updates through the API (sObject Collections), for the write-back."""
        from territory.sources.salesforce_api import connect, salesforce_push

        return salesforce_push(connect(self._credentials(), self._settings()))

    def _credentials(self):
        from territory.sources.salesforce_api import SalesforceCredentials

        return SalesforceCredentials(self.login_url, self.client_id, self.client_secret, self.username or None,
                                     self.password or None)

    def _settings(self):
        from territory.sources.salesforce_api import SalesforceApiSettings

        return SalesforceApiSettings(api_version=self.api_version)

    def describe(self) -> str:
        return f"Salesforce at {self.login_url} (REST API {self.api_version})"


class HubSpotExportSource(CrmSource):
    """A folder of HubSpot export files, with the reps' profiles beside them."""

    path: str

    def land(self, home: TerritoryHome, plan: Plan) -> Path:
        from territory.sources.hubspot import land_export

        return land_export(Path(self.path).expanduser(), home.sources / "hubspot-export" / "landed",
                           plan.sources.hubspot.hubspot_mapping())

    def describe(self) -> str:
        return f"the HubSpot export in {Path(self.path).expanduser().resolve()}"


class HubSpotApiSource(CrmSource):
    """A HubSpot portal through its CRM v3 API, pulled incrementally by last modification."""

    access_token: str
    rep_profiles: str  # the folder of rep_profiles.csv (and optional quotas.csv, assessments.csv)
    host: str = "https://api.hubapi.com"

    def land(self, home: TerritoryHome, plan: Plan) -> Path:
        from territory.sources.hubspot import read_rep_profiles
        from territory.sources.hubspot_api import HubSpotApiSettings, land_api

        folder = home.sources / "hubspot-api"
        return land_api(folder / "objects", folder / "landed", self.access_token,
                        read_rep_profiles(Path(self.rep_profiles).expanduser()), plan.sources.hubspot.hubspot_mapping(),
                        HubSpotApiSettings(host=self.host))

    def push(self) -> Push:
        """Owner updates through the API (batch updates of hubspot_owner_id), for the write-back."""
        from territory.sources.hubspot_api import HubSpotApiSettings, connect, hubspot_push

        settings = HubSpotApiSettings(host=self.host)
        return hubspot_push(connect(self.access_token, settings), settings)

    def describe(self) -> str:
        return f"HubSpot at {self.host}"


class PostgresReplicaSource(CrmSource):
    """A PostgreSQL replica of Salesforce's objects, as a replication tool lands them."""

    host: str
    database: str
    user: str
    password: str
    port: int = 5432
    db_schema: str = "salesforce"
    sslmode: str = "prefer"

    def land(self, home: TerritoryHome, plan: Plan) -> Path:
        from territory.sources.postgres_replica import PostgresReplica, land_replica

        replica = PostgresReplica(self.host, self.database, self.user, self.password, self.port, self.db_schema,
                                  self.sslmode)
        folder = home.sources / "postgres"
        return land_replica(folder / "objects", folder / "landed", replica, plan.sources.salesforce.salesforce_mapping())

    def describe(self) -> str:
        return f"the PostgreSQL replica {self.user}@{self.host}:{self.port}/{self.database} (schema {self.db_schema})"
