from pathlib import Path

import dagster as dg

from curation.catalog import Catalog
from curation.lake import Lake, home_from_env


class LakeResource(dg.ConfigurableResource):
    """The data root: parquet lake + DuckDB catalog under ``CORPUSFORGE_HOME``."""

    home: str = ""  # empty: $CORPUSFORGE_HOME, else ./.corpusforge

    @property
    def lake(self) -> Lake:
        return Lake(Path(self.home).resolve() if self.home else home_from_env())

    @property
    def catalog(self) -> Catalog:
        return Catalog(self.lake.catalog_path)
