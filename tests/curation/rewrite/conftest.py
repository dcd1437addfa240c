from tests.curation.lm.conftest import model_cache, tiny_llama_dir, tinycoder_dir  # noqa: F401
