"""Safety: rating commands by risk and running them (shell fixes now, the agent later)."""
