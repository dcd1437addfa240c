"""Continued pretraining of a causal LM on a built mixture, with an optional KL anchor to the base model.

loss = CE(next token) + kl_coef * KL(p_train || p_base), the penalty seed 000 §4.2 proposes against
catastrophic forgetting; the frozen base model is loaded only when ``kl_coef > 0``. AdamW, gradient
accumulation, gradient clipping, cosine LR (``schedule.get_lr``). The same code runs a few short
steps on CPU (fp32) and trains for real on a GPU (bf16 autocast). Resumes from ``out_dir``.
"""

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from curation.hashing import file_sha256
from curation.training.blocks import PackedBlocks, open_training_data
from curation.training.checkpoint import (
    checkpoint_dir,
    load_optimizer_state,
    read_checkpoint_meta,
    save_checkpoint,
)
from curation.training.config import TrainingConfig
from curation.training.schedule import get_lr

LOSS_LOG = "loss.jsonl"
CHECKPOINT_FORMAT = "corpusforge-checkpoint/1"


def resolve_device(cfg: TrainingConfig) -> str:
    import torch

    if cfg.device != "auto":
        return cfg.device
    return "cuda" if torch.cuda.is_available() else "cpu"


def autocast_dtype(cfg: TrainingConfig, device: str):
    """bf16 autocast on CUDA by default; fp32 on CPU, where bf16 matmuls are slower, not faster."""
    import torch

    if cfg.dtype == "bfloat16" or (cfg.dtype == "auto" and device.startswith("cuda")):
        return torch.bfloat16
    return None


def kl_divergence(logits, base_logits):
    """Mean over token positions of KL(p_train || p_base) = sum_v p_train * (log p_train - log p_base)."""
    import torch.nn.functional as F

    vocab = logits.shape[-1]
    log_p = F.log_softmax(logits.float().reshape(-1, vocab), dim=-1)
    log_q = F.log_softmax(base_logits.float().reshape(-1, vocab), dim=-1)
    return F.kl_div(log_q, log_p, log_target=True, reduction="batchmean")


def _optimizer(model, cfg: TrainingConfig, device: str):
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    # nanoGPT: decay matrices and embeddings, not biases or norm gains
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    fused = device.startswith("cuda")
    return torch.optim.AdamW(groups, lr=cfg.max_lr, betas=(cfg.beta1, cfg.beta2), fused=fused)


def _read_log(path: Path, before_step: int) -> list[dict]:
    """Loss records of steps already checkpointed; later lines (a run that died) are discarded."""
    if not path.is_file():
        return []
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in records if r["step"] < before_step]


def _manifest_ref(train_data, mixture_manifest) -> dict | None:
    if mixture_manifest is None and isinstance(train_data, str | Path):
        candidate = Path(train_data).parent / "mixture_manifest.json"
        mixture_manifest = candidate if candidate.is_file() else None
    if mixture_manifest is None:
        return None
    return {"path": str(Path(mixture_manifest).resolve()), "sha256": file_sha256(mixture_manifest)}


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class _Session:
    """What the steps of one training run share."""

    cfg: TrainingConfig
    out_dir: Path
    base_ref: dict
    previous: dict | None
    start_step: int
    history: list[dict]
    log_path: Path
    device: str = "cpu"
    amp: object = None
    tokenizer: object = None
    model: object = None
    base: object = None
    optimizer: object = None
    blocks: PackedBlocks | None = None
    vocab: int = 0
    manifest: dict | None = None
    init_ref: dict | None = None


def _open_session(cfg: TrainingConfig, base_model_dir: Path, out_dir: Path, init_from: Path | None) -> _Session:
    """Where the run stands: its base model, the checkpoint it resumes, the loss log so far."""
    from curation.lm.models import model_fingerprint

    out_dir.mkdir(parents=True, exist_ok=True)
    base_ref = {"path": str(base_model_dir.resolve()), "fingerprint": model_fingerprint(base_model_dir)}
    previous = read_checkpoint_meta(out_dir)
    if previous and previous["base_model"]["fingerprint"] != base_ref["fingerprint"]:
        raise ValueError(
            f"{checkpoint_dir(out_dir)} continues base model {previous['base_model']['path']}, "
            f"not {base_ref['path']}: use another out_dir"
        )
    start_step = previous["steps_done"] if previous else 0
    log_path = out_dir / LOSS_LOG
    history = _read_log(log_path, start_step)
    log_path.write_text("".join(json.dumps(r) + "\n" for r in history), encoding="utf-8")
    init_ref = None
    if init_from is not None:
        init_ref = {"path": str(Path(init_from).resolve()), "fingerprint": model_fingerprint(Path(init_from))}
    return _Session(cfg, out_dir, base_ref, previous, start_step, history, log_path, init_ref=init_ref)


def _load_models(run: _Session, base_model_dir: Path, init_from: Path | None) -> None:
    """The model to train (resumed checkpoint > ``init_from``, e.g. the previous curriculum stage >
    base), the frozen base for the KL anchor, and the optimizer."""
    import torch

    from curation.lm.models import load_causal_lm

    cfg = run.cfg
    run.device = resolve_device(cfg)
    run.amp = autocast_dtype(cfg, run.device)
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    torch.manual_seed(cfg.seed)
    source = checkpoint_dir(run.out_dir) if run.previous else (init_from or base_model_dir)
    # master weights in fp32 everywhere; autocast does the bf16 math on GPU
    run.tokenizer, run.model = load_causal_lm(source, run.device, torch.float32)
    run.model.train()
    if cfg.kl_coef > 0:  # the anchor is the original base model, whatever stage this is
        _, run.base = load_causal_lm(base_model_dir, run.device, torch.float32 if run.amp is None else run.amp)
        run.base.requires_grad_(False)
    run.optimizer = _optimizer(run.model, cfg, run.device)
    if run.previous:
        load_optimizer_state(run.out_dir, run.optimizer, run.device)
    run.vocab = run.model.get_input_embeddings().num_embeddings


def _train_step(run: _Session, step: int) -> dict:
    """One optimizer step over ``grad_accum_steps`` micro-batches; the step's loss record."""
    import torch
    import torch.nn.functional as F

    cfg, device, amp = run.cfg, run.device, run.amp
    t_step = time.perf_counter()
    lr = get_lr(step, cfg)
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    ce_sum = kl_sum = 0.0
    for micro in range(cfg.grad_accum_steps):
        batch = torch.from_numpy(run.blocks.micro_batch(step * cfg.grad_accum_steps + micro, cfg.micro_batch_size))
        if int(batch.max()) >= run.vocab:
            raise ValueError(
                f"token id {int(batch.max())} >= model vocabulary {run.vocab}: mixture built with another tokenizer?"
            )
        batch = batch.to(device)
        x, y = batch[:, :-1], batch[:, 1:]
        with torch.autocast(device_type=device.split(":")[0], dtype=amp or torch.float32, enabled=amp is not None):
            logits = run.model(input_ids=x).logits
            ce = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
            loss = ce
            if run.base is not None:
                with torch.no_grad():
                    base_logits = run.base(input_ids=x).logits
                kl = kl_divergence(logits, base_logits)
                loss = ce + cfg.kl_coef * kl
                kl_sum += kl.item()
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"non-finite loss {loss.item()} at step {step}: stopping before the update")
        (loss / cfg.grad_accum_steps).backward()
        ce_sum += ce.item()
    grad_norm = torch.nn.utils.clip_grad_norm_(run.model.parameters(), cfg.grad_clip)
    run.optimizer.step()
    run.optimizer.zero_grad(set_to_none=True)
    ce_mean, kl_mean = ce_sum / cfg.grad_accum_steps, kl_sum / cfg.grad_accum_steps
    return {
        "step": step,
        "lr": lr,
        "loss": ce_mean + cfg.kl_coef * kl_mean,
        "ce": ce_mean,
        "kl": kl_mean if run.base is not None else None,
        "grad_norm": float(grad_norm),
        "tokens": cfg.tokens_per_step,
        "step_s": round(time.perf_counter() - t_step, 3),
    }


def _checkpoint_meta(run: _Session, step: int, record: dict, run_wall_s: float) -> dict:
    import torch
    from transformers import __version__ as transformers_version

    cfg = run.cfg
    return {
        "format": CHECKPOINT_FORMAT,
        "config": cfg.to_dict(),
        "steps_done": step + 1,
        "tokens_seen": (step + 1) * cfg.tokens_per_step,
        "base_model": run.base_ref,
        "initialised_from": run.init_ref,
        "mixture_manifest": run.manifest,
        "train_tokens_available": run.blocks.num_tokens,
        "data_order": "sequential" if not run.blocks.shuffle else "shuffled",
        "final_loss": record["loss"],
        "final_ce": record["ce"],
        "wall_time_s": round((run.previous or {}).get("wall_time_s", 0.0) + run_wall_s, 3),
        "device": run.device,
        "autocast": str(run.amp) if run.amp is not None else None,
        "versions": {"torch": torch.__version__, "transformers": transformers_version},
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def train(
    cfg: TrainingConfig,
    base_model_dir: str | Path,
    train_data,
    out_dir: str | Path,
    log: Callable[[dict], None] | None = None,
    mixture_manifest: str | Path | None = None,
    init_from: str | Path | None = None,
    shuffle: bool = True,
) -> dict:
    """Train ``cfg.max_steps`` optimizer steps (continuing from a checkpoint in ``out_dir``).

    ``train_data``: a mixture's ``blend.txt``, a Megatron prefix, IndexedDatasets or token arrays.
    ``init_from``: weights to start from instead of the base model (the previous curriculum stage's
    checkpoint); the KL anchor stays the base model. ``shuffle=False`` reads the data in file order
    (a ``ppl_ascending`` stage). Returns the run summary; ``losses`` lists every step's record (also
    in ``out_dir/loss.jsonl``).
    """
    base_model_dir, out_dir = Path(base_model_dir), Path(out_dir)
    init_from = Path(init_from) if init_from is not None else None
    run = _open_session(cfg, base_model_dir, out_dir, init_from)
    if run.start_step >= cfg.max_steps:
        return _summary(run.previous, run.history, out_dir, steps_run=0, run_wall_s=0.0)
    _load_models(run, base_model_dir, init_from)
    run.blocks = PackedBlocks(open_training_data(train_data), cfg.seq_len, cfg.seed, shuffle=shuffle)
    run.manifest = _manifest_ref(train_data, mixture_manifest)

    t_run = time.perf_counter()
    meta = run.previous
    for step in range(run.start_step, cfg.max_steps):
        record = _train_step(run, step)
        run.history.append(record)
        with run.log_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        if log is not None:
            log(record)
        last = step + 1 == cfg.max_steps
        if last or (cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0):
            meta = _checkpoint_meta(run, step, record, time.perf_counter() - t_run)
            save_checkpoint(out_dir, run.model, run.tokenizer, run.optimizer, meta)
    run_wall_s = time.perf_counter() - t_run
    return _summary(meta, run.history, out_dir, steps_run=cfg.max_steps - run.start_step, run_wall_s=run_wall_s)


def _summary(meta: dict, history: list[dict], out_dir: Path, steps_run: int, run_wall_s: float) -> dict:
    tokens = (
        steps_run * meta["config"]["micro_batch_size"] * meta["config"]["grad_accum_steps"] * meta["config"]["seq_len"]
    )
    return {
        "steps_done": meta["steps_done"],
        "steps_run": steps_run,
        "losses": history,
        "final_loss": meta["final_loss"],
        "checkpoint_dir": str(checkpoint_dir(out_dir)),
        "loss_log": str(out_dir / LOSS_LOG),
        "run_wall_s": round(run_wall_s, 3),
        "total_wall_s": meta["wall_time_s"],
        "s_per_step": round(run_wall_s / steps_run, 3) if steps_run else None,
        "tokens_per_s": round(tokens / run_wall_s, 1) if run_wall_s else None,
        "device": meta["device"],
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "checkpoint": meta,
    }
