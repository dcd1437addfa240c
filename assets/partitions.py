import dagster as dg

# A new folder in landing/ is a new category partition (added by new_shard_sensor).
category_partitions = dg.DynamicPartitionsDefinition(name="category")
