"""Agent mode: a model carries out a goal with tools, under a permission policy, in a sandbox."""
