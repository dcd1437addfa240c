"""Self-describing, atomically written, resumable checkpoints (nanoGPT style).

``<out_dir>/checkpoint/`` holds the HF model (safetensors via ``save_pretrained``), its tokenizer,
``optimizer.pt`` and ``corpusforge_checkpoint.json`` (config, steps done, mixture manifest + hash,
base model, losses, wall time). It is written to a staging folder and swapped in whole, so a crash
mid-save leaves the previous checkpoint intact.
"""

import json
import uuid
from pathlib import Path

from curation.lake import replace_dir

CHECKPOINT_DIR = "checkpoint"
CHECKPOINT_JSON = "corpusforge_checkpoint.json"
OPTIMIZER_FILE = "optimizer.pt"


def checkpoint_dir(out_dir: Path) -> Path:
    return Path(out_dir) / CHECKPOINT_DIR


def read_checkpoint_meta(out_dir: Path) -> dict | None:
    """The checkpoint's JSON description, or None when ``out_dir`` holds no finished checkpoint."""
    path = checkpoint_dir(out_dir) / CHECKPOINT_JSON
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def save_checkpoint(out_dir: Path, model, tokenizer, optimizer, meta: dict) -> Path:
    import torch

    out_dir = Path(out_dir)
    staging = out_dir / f".{CHECKPOINT_DIR}.staging-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    torch.save(optimizer.state_dict(), staging / OPTIMIZER_FILE)
    (staging / CHECKPOINT_JSON).write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
    return replace_dir(staging, checkpoint_dir(out_dir))


def load_optimizer_state(out_dir: Path, optimizer, device) -> None:
    import torch

    state = torch.load(checkpoint_dir(out_dir) / OPTIMIZER_FILE, map_location=device, weights_only=True)
    optimizer.load_state_dict(state)
