"""File-watch suggestions: saved ``AI!`` / ``AI?`` comments become patches and answers.

- :mod:`.comments`: find AI comments in common languages and remove them again;
- :mod:`.ignore`: which files are watched (.gitignore, aiw's own files, caches);
- :mod:`.prompts`: the context sent (the comment, the code, related files);
- :mod:`.diffs`: a model's loose diff applied in memory and re-emitted exactly;
- :mod:`.limiter`: ``watch.max_calls_per_minute``;
- :mod:`.service`: :class:`WatchService`, the watcher itself (start/stop/process_pending_now).

See docs/watch.md. Importing this package is cheap; watchfiles loads when watching starts.
"""

from ai_workbench.watch.service import SUGGESTION_KIND, WatchEvent, WatchJob, WatchService

__all__ = ["SUGGESTION_KIND", "WatchEvent", "WatchJob", "WatchService"]
