"""Selection between scoring/rewriting and mixing: topics, quality weights, diversity, domain recall."""

from curation.selection.config import SelectionConfig, SelectionConfigError, load_selection_config
from curation.selection.stage import NOT_SELECTED, SELECTION_FIELDS, STAGE, select_partition, selected_schema
from curation.selection.topics import Taxonomy, TopicClassifier, load_taxonomy

__all__ = ["NOT_SELECTED", "SELECTION_FIELDS", "STAGE", "SelectionConfig", "SelectionConfigError", "Taxonomy",
           "TopicClassifier", "load_selection_config", "load_taxonomy", "select_partition", "selected_schema"]
