"""corpusforge's framework-free core: every curation step, no Dagster import (tests enforce it)."""
