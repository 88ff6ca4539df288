"""optim.models (optim-models)."""
