"""Local language models: locate and load them (``models``), generate with them (``generation``)."""
