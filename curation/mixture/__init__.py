"""Mixing curated categories into a token-budgeted training set (weights, held-out split, Megatron files)."""
