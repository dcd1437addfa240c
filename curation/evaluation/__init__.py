"""Evaluating checkpoints: held-out perplexity per category (the forgetting signal of seed 002)."""
