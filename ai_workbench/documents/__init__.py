"""Architecture documents (SRS, NFR, use cases, API, ADR, RFC, C4, UML): gathered in dialogue,
grounded in the project, checked, rendered offline, exported and rated (docs/documents.md).

The public API is :mod:`ai_workbench.documents.service`; this package imports nothing heavy."""
