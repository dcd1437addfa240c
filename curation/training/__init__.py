"""Continued pretraining on a built mixture: nanoGPT-style config, pure LR schedule, resumable checkpoints."""
