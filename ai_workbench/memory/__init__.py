"""Memory the user controls: profile facts, session summaries (short and medium tiers), recall."""
