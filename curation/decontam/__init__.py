"""Decontamination: n-gram overlap between training documents and evaluation texts (GPT-3 §C, Dolma)."""
