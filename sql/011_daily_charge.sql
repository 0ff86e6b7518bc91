-- The daily charge as a function: the one place its statement is written,
-- called by the store (UsageStore.swift) and by the benchmark's
-- pgbench script alike. One statement both checks and adds: concurrent
-- charges queue on the row, so at 29 of 30 exactly one of any number of
-- concurrent single charges passes. No row comes back when the charge does
-- not fit, and then nothing was counted.
CREATE FUNCTION charge_daily_requests(p_user_id uuid, p_requests integer, p_cap integer)
RETURNS TABLE (requests integer, resets_at timestamptz)
LANGUAGE sql AS $$
    INSERT INTO daily_usage AS u (user_id, day, requests)
    SELECT p_user_id, (now() AT TIME ZONE 'UTC')::date, p_requests
    WHERE p_requests <= p_cap
    ON CONFLICT (user_id, day) DO UPDATE SET requests = u.requests + excluded.requests
    WHERE u.requests + excluded.requests <= p_cap
    RETURNING u.requests, ((now() AT TIME ZONE 'UTC')::date + 1)::timestamp AT TIME ZONE 'UTC'
$$;
