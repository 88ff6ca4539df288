"""optim.dataset (optim-dataset)."""
