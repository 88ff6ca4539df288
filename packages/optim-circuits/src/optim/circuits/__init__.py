"""optim.circuits (optim-circuits)."""
