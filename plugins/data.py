"""Data context plugin: SQL, data modelling, pipelines, quality and pandas notes."""

from __future__ import annotations

from ai_workbench.chat.plugins import KnowledgePlugin, Section

SECTIONS: tuple[Section, ...] = (
    Section(
        "SQL query plans and indexes",
        "query plan, explain, explain analyze, index, indexes, slow query, seq scan, "
        "full table scan, b tree, composite index, covering index, sargable, optimizer",
        "Read the plan with EXPLAIN (ANALYZE, BUFFERS): compare estimated vs actual rows - "
        "big gaps mean stale statistics (run ANALYZE) or correlated predicates. Composite "
        "indexes serve equality columns first, then one range column (leftmost-prefix rule); "
        "covering indexes (INCLUDE) avoid heap lookups. Predicates must be sargable: no "
        "functions on the indexed column (`WHERE date(ts) = ...`), no leading wildcards, "
        "matching types. Every index slows writes; drop unused ones.",
    ),
    Section(
        "Joins, N+1 and query patterns",
        "join, n+1, orm, subquery, cte, window function, group by, distinct, "
        "pagination, offset, keyset, cursor",
        "N+1: one query per row from an ORM loop - batch with IN/JOIN or eager loading. "
        "Pagination with OFFSET gets slower with depth and skips/duplicates rows under "
        "concurrent writes; use keyset pagination (`WHERE (created_at, id) < (...) ORDER BY "
        "created_at DESC, id DESC LIMIT n`). Window functions replace self-joins for running "
        "totals and top-N per group. DISTINCT often hides a bad join that multiplies rows.",
    ),
    Section(
        "Data modelling",
        "data model, data modelling, data modeling, schema, normalization, normalisation, "
        "denormalization, star schema, fact table, dimension, primary key, foreign key, "
        "surrogate key, constraint",
        "OLTP: normalise (3NF), enforce integrity in the database (primary, foreign, unique, "
        "check constraints, NOT NULL) rather than only in code. Analytics: star schema - facts "
        "at a clearly stated grain (one row per what?) with foreign keys to conformed "
        "dimensions; surrogate keys for dimensions, natural keys kept as attributes. Store "
        "money as NUMERIC, timestamps as timestamptz, enums as lookup tables or constrained "
        "text. Name the grain of every table in its documentation.",
    ),
    Section(
        "Pipelines and idempotency",
        "pipeline, etl, elt, idempotent, idempotency, backfill, rerun, retry, airflow, "
        "dagster, dbt, orchestration, incremental, upsert, merge, exactly once",
        "Every task must be safe to re-run: write to a partition or staging table and swap, "
        "or MERGE/upsert on a natural key - never blind INSERT on retry. Parameterise runs by "
        "logical date (not now()) so backfills reproduce history. Incremental loads need a "
        "reliable watermark (updated_at plus a lookback window for late rows) or CDC. Make "
        "dependencies explicit in the orchestrator, alert on freshness, and keep raw data "
        "immutable so transformations can be replayed.",
    ),
    Section(
        "Partitioning and file layout",
        "partition, partitioning, bucketing, clustering, shard, sharding, parquet, "
        "small files, compaction, iceberg, delta lake, hive, data lake, columnar",
        "Partition by a low-to-medium cardinality column used in filters (usually event date); "
        "too many partitions create small files and slow planning. Target files of ~128 MB-1 GB "
        "in Parquet, compact small files, and sort/cluster within partitions by common filter "
        "columns for min/max pruning. Table formats (Iceberg, Delta) add atomic commits, "
        "schema evolution and time travel. For OLTP sharding choose a key that spreads load "
        "and keeps transactions within a shard.",
    ),
    Section(
        "Data quality checks",
        "data quality, validation, great expectations, dbt test, null check, "
        "uniqueness, freshness, anomaly, row count, schema drift, contract, data contract",
        "Check at boundaries: schema (columns, types), not-null and uniqueness on keys, "
        "referential integrity, accepted values and ranges, row-count deltas versus history, "
        "freshness (max timestamp lag), and reconciliation totals against the source. Fail "
        "the pipeline on critical checks and quarantine bad rows rather than silently "
        "dropping them. Agree data contracts with producers so breaking schema changes are "
        "caught before deploy.",
    ),
    Section(
        "pandas pitfalls",
        "pandas, dataframe, settingwithcopywarning, chained assignment, apply, vectorize, "
        "dtype, groupby, merge, memory, iterrows, polars, numpy",
        "Avoid chained assignment (`df[df.a > 0]['b'] = 1`) - use `.loc[mask, 'b'] = 1`. "
        "Vectorise instead of apply/iterrows. Merges silently multiply rows on duplicate keys: "
        "pass `validate='one_to_one'` / `'many_to_one'` and check row counts. Integer columns "
        "with NaN become float - use nullable dtypes (`Int64`, `string`, `boolean`). Read "
        "with explicit dtypes and `parse_dates`; use categoricals and chunking for memory. "
        "`groupby` drops NaN keys unless `dropna=False`.",
    ),
    Section(
        "Time zones and timestamps",
        "time zone, timezone, tz, utc, timestamp, datetime, dst, daylight saving, "
        "naive datetime, tz aware, epoch, iso 8601, date boundary",
        "Store instants in UTC (timestamptz, tz-aware datetimes); convert to local time only "
        "for display and for business-day logic, with a named zone (Europe/London), never a "
        "fixed offset. Naive datetimes are bugs waiting for a server in another zone. DST "
        "makes some local times ambiguous or non-existent and some days 23 or 25 hours long. "
        "Daily aggregates need an explicit zone for the day boundary. Serialise as ISO 8601 "
        "with offset; mind seconds vs milliseconds in epochs.",
    ),
    Section(
        "Slowly changing dimensions",
        "slowly changing dimension, scd, scd2, type 2, history, valid from, valid to, "
        "effective date, snapshot, point in time, as of",
        "SCD type 1 overwrites (no history); type 2 adds a row per change with valid_from, "
        "valid_to (or a far-future sentinel) and an is_current flag; facts join to the "
        "dimension version valid at the event time. Use half-open intervals [from, to) so "
        "versions do not overlap, enforce one current row per natural key, and detect changes "
        "with a hash of tracked columns. Point-in-time joins prevent leakage in ML features.",
    ),
    Section(
        "Streaming vs batch",
        "stream, streaming, batch, kafka, kinesis, flink, spark streaming, event time, "
        "watermark, late data, window, exactly once, consumer, offset, cdc, debezium",
        "Batch is simpler, cheaper and easier to backfill; stream when the business needs "
        "seconds-level freshness. Streaming needs event time (not processing time), "
        "watermarks and a policy for late data, and windows (tumbling, sliding, session). "
        "Delivery is at least once in practice: make sinks idempotent or transactional. "
        "Partition topics by the key that needs ordering; ordering holds only within a "
        "partition. Commit consumer offsets after the side effect, not before.",
    ),
    Section(
        "Transactions and concurrency",
        "transaction, isolation, lock, deadlock, race condition, serializable, "
        "repeatable read, read committed, mvcc, select for update, optimistic locking",
        "Default isolation (often READ COMMITTED) allows lost updates in read-modify-write "
        "code: use atomic UPDATE ... SET x = x + 1, SELECT ... FOR UPDATE, optimistic "
        "locking with a version column, or SERIALIZABLE with retries. Keep transactions short, "
        "never wait on network calls inside them, and take locks in a consistent order to "
        "avoid deadlocks.",
    ),
    Section(
        "Migrations",
        "migration, schema migration, alembic, flyway, liquibase, alter table, "
        "backfill column, zero downtime, expand contract, add column, rename column",
        "Use expand/contract for zero-downtime changes: add the new column or table, write to "
        "both, backfill in batches, switch reads, then drop the old. Adding NOT NULL with a "
        "default or building indexes can lock large tables - use CREATE INDEX CONCURRENTLY "
        "(Postgres) or online DDL. Make migrations forward-only and tested against a copy of "
        "production-sized data.",
    ),
)

CHECKLIST: tuple[str, ...] = (
    "What is the grain of each table, and are keys and constraints enforced in the database?",
    "Is every pipeline step idempotent and parameterised by logical date for backfills?",
    "Are timestamps stored in UTC with explicit zones for day boundaries?",
    "Do queries use sargable predicates, suitable indexes and keyset pagination?",
    "Are data quality checks (nulls, uniqueness, freshness, row counts) failing loudly?",
    "Do joins/merges have validated cardinality so rows are not silently multiplied?",
)


class DataPlugin(KnowledgePlugin):
    name = "Data"
    description = "SQL and indexes, data modelling, pipelines, data quality, pandas and time zones"
    sections = SECTIONS
    checklist = CHECKLIST
    extensions = {  # noqa: RUF012 - read-only class data
        ".sql": ("query plan", "data model"),
        ".ipynb": ("pandas",),
        ".parquet": ("partitioning",),
        ".csv": ("pandas", "data quality"),
    }
