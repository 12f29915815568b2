-- The report groups a campaign's redemptions by (variant, day, live or rolled back): a few
-- dozen groups. Without statistics on those expressions the planner guesses tens of thousands
-- and sorts every redemption (to disk, past work_mem) instead of hashing: 320 ms instead of
-- 86 ms for 200,000 redemptions (BENCHMARKS.md, "Report of a large campaign"). PostgreSQL 14+.
CREATE STATISTICS redemptions_report_groups (ndistinct)
    ON variant, (CAST(redeemed_at AS DATE)), (rolled_back_at IS NULL) FROM redemptions;
