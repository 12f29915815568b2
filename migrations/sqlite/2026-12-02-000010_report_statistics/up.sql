-- PostgreSQL's planner needed statistics on the report's grouping expressions; SQLite's plan
-- does not depend on them. The same migration name on both backends keeps their histories alike.
SELECT 1;
