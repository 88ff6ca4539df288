"""optim.reducer (optim-reducer)."""
