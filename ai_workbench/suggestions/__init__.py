"""Suggestions: the one inbox that review, watch and shell results land in.

Other packages call :mod:`ai_workbench.suggestions.service`.
"""
