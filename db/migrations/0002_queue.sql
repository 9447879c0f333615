-- 0002_queue.sql - the job queue, its workers, dashboard views and the
-- read-only role for dashboards.
--
-- Job states (one CHECKed state machine; see db/queue.h for the transitions):
--   scheduled  -> available            run_at reached (the scheduler moves it)
--   available  -> running              claimed by a worker (owner, attempt+1)
--   running    -> completed           handler succeeded (fenced by owner+attempt)
--   running    -> retryable           handler failed, attempts left (run_at = backoff)
--   running    -> failed              handler failed, no attempts left (dead letter)
--   retryable  -> available            run_at reached
--   running    -> retryable|failed     reaper: owner silent, or hard timeout passed
--   any non-terminal -> cancelled      operator (jobs cancel) or the flow itself
--   failed|cancelled|retryable -> available   operator (jobs retry)
SET LOCAL search_path = mosaic;

CREATE TABLE workers (
    id           text PRIMARY KEY,
    host         text NOT NULL,
    pid          integer NOT NULL,
    slots        integer NOT NULL CHECK (slots > 0),
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE workers IS
    'Live queue workers and their last heartbeat; the reaper requeues the running jobs of a silent one.';

CREATE TABLE jobs (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_.:-]{0,63}$'),
    state        text NOT NULL DEFAULT 'available' CHECK (state IN (
        'available', 'scheduled', 'running', 'retryable', 'completed', 'failed', 'cancelled')),
    priority     smallint NOT NULL DEFAULT 100 CHECK (priority BETWEEN 0 AND 1000), -- lower first
    run_at       timestamptz NOT NULL DEFAULT now(),
    attempt      integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts integer NOT NULL DEFAULT 20 CHECK (max_attempts BETWEEN 1 AND 1000),
    timeout_ms   integer NOT NULL DEFAULT 300000 CHECK (timeout_ms > 0),
    args         jsonb NOT NULL DEFAULT '{}',
    dedup_key    text CHECK (length(dedup_key) <= 200),
    owner        text,
    attempted_at timestamptz,
    finished_at  timestamptz,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (attempt <= max_attempts),
    CHECK ((state = 'running') = (owner IS NOT NULL)),
    CHECK (state <> 'running' OR attempted_at IS NOT NULL),
    CHECK ((state IN ('completed', 'failed', 'cancelled')) = (finished_at IS NOT NULL))
) WITH (fillfactor = 85,
        autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000,
        autovacuum_analyze_scale_factor = 0.05, autovacuum_vacuum_cost_delay = 1);
COMMENT ON TABLE jobs IS
    'The work queue: one row per job, a CHECKed state machine, claimed with FOR UPDATE SKIP LOCKED.';
COMMENT ON COLUMN jobs.dedup_key IS
    'Idempotency key (e.g. chain:tx:logindex:step), unique among non-terminal jobs.';

-- The fetch index: only available rows, in claim order.
CREATE INDEX jobs_fetch_idx ON jobs (priority, id) WHERE state = 'available';
-- What the scheduler scans.
CREATE INDEX jobs_due_idx ON jobs (run_at) WHERE state IN ('scheduled', 'retryable');
-- What the reaper and the fence look at.
CREATE INDEX jobs_running_idx ON jobs (owner) WHERE state = 'running';
-- Idempotent enqueue.
CREATE UNIQUE INDEX jobs_dedup_idx ON jobs (dedup_key)
    WHERE dedup_key IS NOT NULL AND state NOT IN ('completed', 'failed', 'cancelled');
-- Retention pruning.
CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE state IN ('completed', 'cancelled');

-- ------------------------------------------------------------ dashboards --
CREATE SCHEMA IF NOT EXISTS mosaic_dash;
COMMENT ON SCHEMA mosaic_dash IS 'Views for dashboards; the only thing the read-only role can read.';

CREATE VIEW mosaic_dash.message_pipeline AS
    SELECT flow, state, count(*) AS messages,
           min(updated_at) AS oldest_update,
           max(updated_at) AS newest_update,
           sum(amount) AS total_amount
    FROM mosaic.messages GROUP BY flow, state;
COMMENT ON VIEW mosaic_dash.message_pipeline IS 'Messages by flow and relayer state.';

CREATE VIEW mosaic_dash.queue_depth AS
    SELECT kind, state, count(*) AS jobs, min(run_at) AS oldest_run_at
    FROM mosaic.jobs GROUP BY kind, state;
COMMENT ON VIEW mosaic_dash.queue_depth IS 'Jobs by kind and state.';

CREATE VIEW mosaic_dash.stuck_jobs AS
    SELECT j.id, j.kind, j.state, j.attempt, j.max_attempts, j.owner, j.attempted_at,
           j.run_at, j.last_error,
           CASE WHEN j.state = 'failed' THEN 'dead-lettered'
                WHEN j.state = 'running' AND w.id IS NULL THEN 'owner gone'
                WHEN j.state = 'running' AND w.heartbeat_at < now() - interval '30 seconds' THEN 'owner silent'
                WHEN j.state = 'running' AND j.attempted_at + j.timeout_ms * interval '1 millisecond' < now() THEN 'over timeout'
                WHEN j.state = 'available' AND j.run_at < now() - interval '5 minutes' THEN 'waiting over 5 min'
                WHEN j.state = 'retryable' AND j.attempt >= 5 THEN 'retrying repeatedly'
           END AS why
    FROM mosaic.jobs j LEFT JOIN mosaic.workers w ON w.id = j.owner
    WHERE j.state = 'failed'
       OR (j.state = 'running' AND (w.id IS NULL OR w.heartbeat_at < now() - interval '30 seconds'
           OR j.attempted_at + j.timeout_ms * interval '1 millisecond' < now()))
       OR (j.state = 'available' AND j.run_at < now() - interval '5 minutes')
       OR (j.state = 'retryable' AND j.attempt >= 5);
COMMENT ON VIEW mosaic_dash.stuck_jobs IS 'Jobs that need a look: dead-lettered, owner lost, over time, waiting long.';

CREATE VIEW mosaic_dash.throughput_hourly AS
    SELECT date_trunc('hour', finished_at) AS hour, kind, state, count(*) AS jobs
    FROM mosaic.jobs
    WHERE finished_at > now() - interval '7 days'
    GROUP BY 1, 2, 3;
COMMENT ON VIEW mosaic_dash.throughput_hourly IS 'Finished jobs per hour, kind and outcome (last 7 days, within retention).';

CREATE VIEW mosaic_dash.messages_hourly AS
    SELECT date_trunc('hour', completed_at) AS hour, flow, state, count(*) AS messages,
           sum(amount) AS amount
    FROM mosaic.messages WHERE completed_at IS NOT NULL
    GROUP BY 1, 2, 3;
COMMENT ON VIEW mosaic_dash.messages_hourly IS 'Messages completed or reverted per hour and flow.';

CREATE VIEW mosaic_dash.workers AS
    SELECT id, host, pid, slots, started_at, heartbeat_at, now() - heartbeat_at AS silent_for
    FROM mosaic.workers;

-- The read-only role for dashboards: it may read the views and nothing else
-- (views run with their owner's rights, so no grant on mosaic.* is needed).
-- Creating a role needs CREATEROLE; without it the role is left to the DBA.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mosaic_readonly') THEN
        IF (SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user) THEN
            CREATE ROLE mosaic_readonly NOLOGIN;
        ELSE
            RAISE NOTICE 'role mosaic_readonly not created (no CREATEROLE); create it and grant SELECT on mosaic_dash';
        END IF;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mosaic_readonly') THEN
        GRANT USAGE ON SCHEMA mosaic_dash TO mosaic_readonly;
        GRANT SELECT ON ALL TABLES IN SCHEMA mosaic_dash TO mosaic_readonly;
        REVOKE ALL ON SCHEMA mosaic FROM mosaic_readonly;
    END IF;
END
$$;
