-- 0010_limits.sql - messages held by the relayer's value limits and minimum
-- bounty (relayer.limits.per_message, relayer.limits.per_hour,
-- relayer.min_bounty), and their release by an operator.
--
-- Before the relayer records the first call of a message (the confirmation
-- on the target chain, with the anchor and the gateway proof it needs), the
-- `msg` flow checks it against the policy in one transaction holding the
-- pair's advisory lock (relayer/flows/limits.c): either the message is
-- recorded as started (relay_started_at; the per-hour window sums the
-- amounts of the pair's messages started in the trailing 60 minutes) or
-- it is set to 'held' with the reason, an alert is raised and its job
-- completes.  `mosaic-relayer message release HASH` sets it back to
-- 'declared' with who, when and why, and queues its job; a released
-- message passes the limits once (its amount still counts in the window).
-- held_* and released_* stay after the message moves on (its history).
SET LOCAL search_path = mosaic;

ALTER TABLE messages DROP CONSTRAINT messages_state_check;
ALTER TABLE messages ADD CONSTRAINT messages_state_check CHECK (state IN (
    'declared', 'anchoring', 'proving', 'confirming', 'progressing',
    'completed', 'reverting', 'reverted', 'halted', 'refused', 'held'));

ALTER TABLE messages
    -- When the relayer passed the limits for this message (its first call
    -- follows); NULL for messages it never started or started before 0010.
    ADD COLUMN relay_started_at timestamptz,
    ADD COLUMN held_reason      text CHECK (held_reason IN (
        'per_message', 'per_hour', 'min_bounty', 'operator')),
    ADD COLUMN held_detail      text CHECK (length(held_detail) <= 400),
    ADD COLUMN held_at          timestamptz,
    ADD COLUMN released_at      timestamptz,
    ADD COLUMN released_by      text CHECK (length(released_by) <= 64),
    ADD COLUMN release_note     text CHECK (length(release_note) <= 200),
    ADD CONSTRAINT messages_held_check
        CHECK (state <> 'held' OR (held_reason IS NOT NULL AND held_at IS NOT NULL));

-- The per-hour window: a pair's messages started recently.
CREATE INDEX messages_relay_started_idx ON messages (gateway_pair, relay_started_at)
    WHERE relay_started_at IS NOT NULL;

COMMENT ON COLUMN messages.relay_started_at IS
    'When the relayer passed the value limits for the message (its first call follows); the per-hour window sums these.';
COMMENT ON COLUMN messages.held_reason IS
    'Why the message was (last) held: per_message, per_hour, min_bounty or operator.';

-- The dashboards' view of messages gains the hold and release columns
-- (appended: the existing columns keep their order).
CREATE OR REPLACE VIEW mosaic_dash.messages AS
    SELECT m.message_hash,
           '0x' || encode(m.message_hash, 'hex') AS hash,
           m.flow, m.gateway_pair, m.source_chain, m.target_chain,
           '0x' || encode(m.sender, 'hex') AS sender, m.nonce,
           '0x' || encode(m.beneficiary, 'hex') AS beneficiary,
           m.amount, m.gas_price, m.gas_limit,
           m.source_status, m.target_status, m.state, m.halted_reason,
           m.declared_block, m.anchor_height, m.confirmed_block,
           m.source_done_block, m.target_done_block,
           m.created_at, m.updated_at, m.completed_at,
           m.held_reason, m.held_detail, m.held_at, m.released_at, m.released_by,
           m.release_note, m.relay_started_at
    FROM mosaic.messages m;

-- Messages held for an operator, oldest first.
CREATE VIEW mosaic_dash.held_messages AS
    SELECT '0x' || encode(message_hash, 'hex') AS message_hash, flow, gateway_pair,
           source_chain, target_chain, amount, gas_price, gas_limit,
           gas_price * gas_limit AS max_reward, held_reason, held_detail, held_at,
           extract(epoch FROM now() - held_at)::bigint AS held_seconds
    FROM mosaic.messages WHERE state = 'held';
COMMENT ON VIEW mosaic_dash.held_messages IS
    'Messages held by the value limits or the minimum bounty (or by an operator), waiting for `mosaic-relayer message release`.';

-- Per gateway pair: held messages and their value, and the value started in
-- the trailing hour (what relayer.limits.per_hour is compared with).
CREATE VIEW mosaic_dash.limits AS
    SELECT p.gateway_pair,
           (SELECT count(*) FROM mosaic.messages h
            WHERE h.gateway_pair = p.gateway_pair AND h.state = 'held') AS held_messages,
           (SELECT coalesce(sum(h.amount), 0) FROM mosaic.messages h
            WHERE h.gateway_pair = p.gateway_pair AND h.state = 'held') AS held_value,
           (SELECT min(h.held_at) FROM mosaic.messages h
            WHERE h.gateway_pair = p.gateway_pair AND h.state = 'held') AS oldest_held_at,
           (SELECT count(*) FROM mosaic.messages s
            WHERE s.gateway_pair = p.gateway_pair
              AND s.relay_started_at > now() - interval '1 hour') AS started_last_hour,
           (SELECT coalesce(sum(s.amount), 0) FROM mosaic.messages s
            WHERE s.gateway_pair = p.gateway_pair
              AND s.relay_started_at > now() - interval '1 hour') AS value_last_hour
    FROM (SELECT DISTINCT gateway_pair FROM mosaic.messages
          WHERE state = 'held' OR relay_started_at > now() - interval '1 hour') p;
COMMENT ON VIEW mosaic_dash.limits IS
    'Per gateway pair: messages held and their value, and the value the relayer started in the trailing hour (relayer.limits.per_hour).';

-- A held message waits for an operator on purpose (held_messages and the
-- alert say so); it is not "stuck".  Same view as 0008 otherwise.
CREATE OR REPLACE VIEW mosaic_dash.stuck_messages AS
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
    WHERE m.state NOT IN ('completed', 'reverted', 'refused', 'held')
      AND m.created_at < now() - interval '10 minutes';

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mosaic_readonly') THEN
        GRANT SELECT ON mosaic_dash.messages, mosaic_dash.held_messages, mosaic_dash.limits,
            mosaic_dash.stuck_messages TO mosaic_readonly;
    END IF;
END
$$;
