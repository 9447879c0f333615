-- 0008_dashboards.sql - more views for the dashboards (deploy/grafana-dashboard.json)
-- and `mosaic-relayer status`: the open part of the message pipeline and its
-- oldest message, stuck messages, stuck jobs by reason, throughput per hour,
-- chains and watcher lag, anchor age, signers, open alerts.
--
-- Every view reads mosaic.* with its owner's rights; the read-only role
-- `mosaic_readonly` gets SELECT on the views of mosaic_dash and nothing in
-- mosaic (0002).  No view reads unlock_secrets or pending_secrets.
-- Open = not completed, reverted or refused (halted is open: it waits for
-- an operator).
SET LOCAL search_path = mosaic;

-- Open messages by flow and state, with the oldest of each.
CREATE VIEW mosaic_dash.pipeline_open AS
    SELECT flow, state, count(*) AS messages,
           min(created_at) AS oldest_created_at,
           extract(epoch FROM now() - min(created_at))::bigint AS oldest_age_seconds,
           extract(epoch FROM now() - min(updated_at))::bigint AS longest_idle_seconds,
           sum(amount) AS total_amount
    FROM mosaic.messages
    WHERE state NOT IN ('completed', 'reverted', 'refused')
    GROUP BY flow, state;
COMMENT ON VIEW mosaic_dash.pipeline_open IS
    'Open messages by flow and relayer state: how many, the oldest, the longest idle.';

-- The oldest open message of each flow.
CREATE VIEW mosaic_dash.oldest_open_message AS
    SELECT DISTINCT ON (flow)
           flow, '0x' || encode(message_hash, 'hex') AS message_hash, state, gateway_pair,
           source_chain, target_chain, halted_reason, created_at, updated_at,
           extract(epoch FROM now() - created_at)::bigint AS age_seconds
    FROM mosaic.messages
    WHERE state NOT IN ('completed', 'reverted', 'refused')
    ORDER BY flow, created_at, message_hash;
COMMENT ON VIEW mosaic_dash.oldest_open_message IS 'The oldest open message of each flow.';

-- Messages open for more than ten minutes, with their live job if any.
CREATE VIEW mosaic_dash.stuck_messages AS
    SELECT '0x' || encode(m.message_hash, 'hex') AS message_hash, m.flow, m.state,
           m.gateway_pair, m.source_chain, m.target_chain, m.source_status, m.target_status,
           m.halted_reason, m.created_at, m.updated_at,
           extract(epoch FROM now() - m.created_at)::bigint AS open_seconds,
           extract(epoch FROM now() - m.updated_at)::bigint AS idle_seconds,
           j.id AS job_id, j.state AS job_state, j.attempt AS job_attempt, j.run_at AS job_run_at,
           j.last_error AS job_last_error
    FROM mosaic.messages m
    LEFT JOIN LATERAL (
        SELECT id, state, attempt, run_at, last_error FROM mosaic.jobs
        WHERE kind = 'msg' AND args ->> 'message_hash' = '0x' || encode(m.message_hash, 'hex')
          AND state NOT IN ('completed', 'cancelled')
        ORDER BY id DESC LIMIT 1) j ON true
    WHERE m.state NOT IN ('completed', 'reverted', 'refused')
      AND m.created_at < now() - interval '10 minutes';
COMMENT ON VIEW mosaic_dash.stuck_messages IS
    'Messages open for more than 10 minutes, with their live msg job (state, attempts, last error).';

-- Stuck jobs (0002's stuck_jobs: dead-lettered, owner gone or silent, over
-- its timeout, waiting over 5 min, retried 5 times or more) by kind and reason.
CREATE VIEW mosaic_dash.stuck_jobs_by_reason AS
    SELECT kind, why, count(*) AS jobs, min(coalesce(attempted_at, run_at)) AS oldest
    FROM mosaic_dash.stuck_jobs GROUP BY kind, why;
COMMENT ON VIEW mosaic_dash.stuck_jobs_by_reason IS 'Stuck jobs counted by kind and reason.';

-- Messages declared and finished per hour and flow (last 7 days).
CREATE VIEW mosaic_dash.pipeline_hourly AS
    SELECT hour, flow, sum(declared) AS declared, sum(completed) AS completed,
           sum(reverted) AS reverted
    FROM (SELECT date_trunc('hour', created_at) AS hour, flow, 1 AS declared, 0 AS completed,
                 0 AS reverted
          FROM mosaic.messages WHERE created_at > now() - interval '7 days'
          UNION ALL
          SELECT date_trunc('hour', completed_at), flow, 0, (state = 'completed')::int,
                 (state = 'reverted')::int
          FROM mosaic.messages WHERE completed_at > now() - interval '7 days') t
    GROUP BY hour, flow;
COMMENT ON VIEW mosaic_dash.pipeline_hourly IS
    'Messages declared, completed and reverted per hour and flow (last 7 days).';

-- Transactions per hour, chain and purpose (last 7 days).
CREATE VIEW mosaic_dash.transactions_hourly AS
    SELECT date_trunc('hour', created_at) AS hour, chain_key, purpose, count(*) AS transactions,
           count(*) FILTER (WHERE state = 'final') AS final,
           count(*) FILTER (WHERE state = 'failed') AS failed,
           count(*) FILTER (WHERE receipt_status = 0) AS reverted,
           sum(gas_used) AS gas_used
    FROM mosaic.transactions
    WHERE created_at > now() - interval '7 days'
    GROUP BY 1, 2, 3;
COMMENT ON VIEW mosaic_dash.transactions_hourly IS
    'Transactions created per hour, chain and purpose, with how many are final, failed or reverted, and gas used.';

-- Chains: the watcher's position and lag.
CREATE VIEW mosaic_dash.chains AS
    SELECT chain_key, chain_id, role, head_block, finalized_block, cursor_block,
           CASE WHEN finalized_block >= cursor_block THEN finalized_block - cursor_block
                WHEN finalized_block < cursor_block THEN 0 END AS lag_blocks,  -- NULL until both are known
           updated_at, extract(epoch FROM now() - updated_at)::bigint AS updated_seconds_ago
    FROM mosaic.chains;
COMMENT ON VIEW mosaic_dash.chains IS
    'Each chain: head, finalized head, watcher cursor, lag (finalized - cursor) and last update.';

-- Anchor age: per Anchor chain and remote chain, the latest anchored height,
-- how long ago it was observed, and how far it is behind the remote chain.
CREATE VIEW mosaic_dash.anchor_age AS
    SELECT a.chain_key, a.remote_chain, a.block_height AS anchored_height,
           '0x' || encode(a.tx_hash, 'hex') AS tx_hash, a.observed_at,
           extract(epoch FROM now() - a.observed_at)::bigint AS age_seconds,
           r.finalized_block AS remote_finalized,
           CASE WHEN r.finalized_block >= a.block_height THEN r.finalized_block - a.block_height
                WHEN r.finalized_block < a.block_height THEN 0 END AS blocks_behind
    FROM (SELECT DISTINCT ON (chain_key, remote_chain) *
          FROM mosaic.anchors ORDER BY chain_key, remote_chain, block_height DESC) a
    JOIN mosaic.chains r ON r.chain_key = a.remote_chain;
COMMENT ON VIEW mosaic_dash.anchor_age IS
    'Latest state root anchored per (chain, remote chain): height, age, blocks behind the remote finalized head.';

-- Signers: next nonce, halt, and open transactions per key and chain.
CREATE VIEW mosaic_dash.signers AS
    SELECT n.chain_key, '0x' || encode(n.sender, 'hex') AS sender, n.next_nonce,
           n.halted_reason, n.halted_at, n.updated_at,
           (SELECT count(*) FROM mosaic.transactions t
            WHERE t.chain_key = n.chain_key AND t.sender = n.sender
              AND t.state IN ('intent', 'signed', 'broadcast', 'included')) AS open_transactions,
           (SELECT min(t.nonce) FROM mosaic.transactions t
            WHERE t.chain_key = n.chain_key AND t.sender = n.sender
              AND t.state IN ('intent', 'signed', 'broadcast')) AS lowest_unmined_nonce
    FROM mosaic.signer_nonces n;
COMMENT ON VIEW mosaic_dash.signers IS
    'Each signing key per chain: next nonce, halt reason, open transactions, lowest nonce not yet mined.';

-- Open (unacknowledged) alerts.
CREATE VIEW mosaic_dash.open_alerts AS
    SELECT id, severity, component, subject, message, raised_at,
           extract(epoch FROM now() - raised_at)::bigint AS age_seconds
    FROM mosaic.alerts WHERE acknowledged_at IS NULL;
COMMENT ON VIEW mosaic_dash.open_alerts IS 'Alerts no operator has acknowledged yet.';

-- The read-only role reads these views (and every later view of
-- mosaic_dash made by the migrating role), nothing else.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mosaic_readonly') THEN
        GRANT USAGE ON SCHEMA mosaic_dash TO mosaic_readonly;
        GRANT SELECT ON mosaic_dash.pipeline_open, mosaic_dash.oldest_open_message,
            mosaic_dash.stuck_messages, mosaic_dash.stuck_jobs_by_reason,
            mosaic_dash.pipeline_hourly, mosaic_dash.transactions_hourly, mosaic_dash.chains,
            mosaic_dash.anchor_age, mosaic_dash.signers, mosaic_dash.open_alerts
            TO mosaic_readonly;
        ALTER DEFAULT PRIVILEGES IN SCHEMA mosaic_dash GRANT SELECT ON TABLES TO mosaic_readonly;
        REVOKE ALL ON SCHEMA mosaic FROM mosaic_readonly;
    ELSE
        RAISE NOTICE 'role mosaic_readonly absent: grant it SELECT on the views of mosaic_dash';
    END IF;
END
$$;
