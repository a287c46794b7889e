"""Project knowledge: a hybrid (BM25 + vector) index of a project's code and documents.

Import :class:`KnowledgeService` from :mod:`ai_workbench.knowledge.service`; this package
imports nothing heavy (chromadb, numpy and the embedding model load on first use).
"""
