-- Which Parquet segments of a relation make up its current state.
--
-- A segment's name says what it holds:  p<partition>-<kind>-<first>-<last>-<created ms>.parquet
--   tail   written by the sink: fact-topic records <first>..<last> of one partition
--   merge  several adjacent tails merged by the compactor (latest row per key)
--   base   everything of the partition up to <last>, merged (latest row per key)
-- Tails are visible at once. A compactor output becomes visible only gate_ms after it was
-- written, and the segments it replaces stay visible until then: a query binds its file list
-- a moment before it evaluates this macro, so an output it has not listed must not yet
-- replace anything it has.
CREATE OR REPLACE MACRO segment_files(pattern, gate_ms) AS TABLE
WITH named AS (
    SELECT file, regexp_extract(
        file,
        'p(\d+)-(tail|merge|base)-(\d+)-(\d+)-(\d+)\.parquet$',
        ['part', 'kind', 'first', 'last', 'created_ms']
    ) AS n
    FROM glob(pattern)
),
visible AS (
    -- TRY_CAST: the optimizer may cast before it filters out files of other names
    SELECT file, n.kind AS kind, TRY_CAST(n.part AS INTEGER) AS part,
           TRY_CAST(n.first AS BIGINT) AS first, TRY_CAST(n.last AS BIGINT) AS last
    FROM named
    WHERE n.kind <> ''
      AND (n.kind = 'tail' OR TRY_CAST(n.created_ms AS BIGINT) <= epoch_ms(now()) - gate_ms)
),
newest_base AS (
    SELECT part, max(last) AS base_last FROM visible WHERE kind = 'base' GROUP BY part
),
-- Tails and merges that a merge holds. A join, not a correlated NOT EXISTS: DuckDB 2.0.1
-- leaks about 1.5 KiB per query with one, and the compactor asks every few seconds.
merged AS (
    SELECT DISTINCT v.file
    FROM visible AS v JOIN visible AS w
      ON w.kind = 'merge' AND w.part = v.part
     AND w.first <= v.first AND w.last >= v.last
     -- of two merges of the same range (a compactor re-run) the later one counts
     AND (w.first < v.first OR w.last > v.last OR w.file > v.file)
    WHERE v.kind <> 'base'
)
SELECT v.file, v.kind, v.part, v.first, v.last
FROM visible AS v LEFT JOIN newest_base AS b USING (part)
WHERE (v.kind = 'base' AND v.last = b.base_last)
   OR (v.kind <> 'base' AND v.last > coalesce(b.base_last, -1)
       AND v.file NOT IN (SELECT file FROM merged));
