-- Relations derived from the per-segment views (see store.py).

-- The stream counts a window on each source partition; a message lives on one, so the
-- window's counts are the sums. Windows whose messages all moved elsewhere (a corrected
-- outcome) have total 0 and are left out.
CREATE OR REPLACE VIEW failure_rates AS
SELECT
    window_start,
    window_end,
    dimension,
    dimension_value,
    sum(delivered)::BIGINT AS delivered,
    sum(failed)::BIGINT AS failed,
    sum(unknown)::BIGINT AS unknown,
    sum(total)::BIGINT AS total,
    CASE
        WHEN dimension = 'error_category' OR sum(delivered) + sum(failed) = 0 THEN NULL
        ELSE sum(failed) / (sum(delivered) + sum(failed))
    END AS failure_rate
FROM failure_rate_partials
GROUP BY window_start, window_end, dimension, dimension_value
HAVING sum(total) > 0;
