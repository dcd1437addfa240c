from tests.curation.training.tiny_lm import tiny_model_dir, tiny_tokenizer  # noqa: F401 - shared fixtures
