"""Knowledge beyond the repository: Confluence, GitLab, GitHub, web sites and folders of
documents and transcripts, synced incrementally into a project's index (``aiw sources``)."""
