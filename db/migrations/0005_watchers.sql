-- 0005_watchers.sql - what the chain watchers (watchers/) need beyond 0001:
-- the gateway pair of each gateway event, the two event kinds that the
-- contracts declare but never emit, and what each event means for the
-- on-chain statuses of its message (mosaic-protocol.md §2.6, §4.1).
SET LOCAL search_path = mosaic;

-- The configured gateway pair whose gateway or co-gateway emitted the event
-- (NULL for anchor events: one Anchor may serve several pairs).  A status
-- event changes a message only when it comes from that message's pair.
ALTER TABLE events ADD COLUMN gateway_pair text;
COMMENT ON COLUMN events.gateway_pair IS
    'Gateway pair of the emitting gateway or co-gateway; NULL for anchor events.';

-- Every event of §2.6, including RevertRedeemComplete and
-- RevertStakeProgressed (declared, never emitted), so that a contract that
-- does emit them cannot stall a watcher on a CHECK violation.
ALTER TABLE events DROP CONSTRAINT events_kind_check;
ALTER TABLE events ADD CONSTRAINT events_kind_check CHECK (kind IN (
    'StakeIntentDeclared', 'StakeProgressed', 'RevertStakeIntentDeclared', 'StakeReverted',
    'RedeemIntentConfirmed', 'UnstakeProgressed', 'RevertRedeemIntentConfirmed', 'RevertRedeemComplete',
    'StakeIntentConfirmed', 'MintProgressed', 'RevertStakeIntentConfirmed', 'RevertStakeProgressed',
    'RedeemIntentDeclared', 'RedeemProgressed', 'RevertRedeemDeclared', 'RedeemReverted',
    'GatewayProven', 'StateRootAvailable', 'BountyChangeInitiated', 'BountyChangeConfirmed'));

-- Which status an event proves, on which side of which flow: the outbox on
-- the source chain, the inbox on the target chain (§4.1).
CREATE TABLE event_effects (
    kind   text PRIMARY KEY,
    flow   text NOT NULL CHECK (flow IN ('stake', 'redeem')),
    side   text NOT NULL CHECK (side IN ('source', 'target')),
    status smallint NOT NULL CHECK (status BETWEEN 1 AND 4)
);
INSERT INTO event_effects (kind, flow, side, status) VALUES
    ('StakeIntentDeclared',         'stake',  'source', 1),
    ('StakeProgressed',             'stake',  'source', 2),
    ('RevertStakeIntentDeclared',   'stake',  'source', 3),
    ('StakeReverted',               'stake',  'source', 4),
    ('StakeIntentConfirmed',        'stake',  'target', 1),
    ('MintProgressed',              'stake',  'target', 2),
    ('RevertStakeIntentConfirmed',  'stake',  'target', 4),
    ('RedeemIntentDeclared',        'redeem', 'source', 1),
    ('RedeemProgressed',            'redeem', 'source', 2),
    ('RevertRedeemDeclared',        'redeem', 'source', 3),
    ('RedeemReverted',              'redeem', 'source', 4),
    ('RedeemIntentConfirmed',       'redeem', 'target', 1),
    ('UnstakeProgressed',           'redeem', 'target', 2),
    ('RevertRedeemIntentConfirmed', 'redeem', 'target', 4);
COMMENT ON TABLE event_effects IS
    'The message status each gateway event proves: flow, side (source outbox / target inbox), status.';

-- Order of the MessageBus statuses along their transitions: Undeclared <
-- Declared < DeclaredRevocation < Progressed = Revoked (both terminal).
-- A status observed later never moves a message backwards, except when a
-- reorganisation removed the event that proved it.
CREATE FUNCTION status_rank(s integer) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE s WHEN 0 THEN 0 WHEN 1 THEN 1 WHEN 3 THEN 2 ELSE 3 END $$;

-- Jobs of one message (the `msg` jobs carry it in args), for reorg handling.
CREATE INDEX jobs_message_idx ON jobs ((args ->> 'message_hash')) WHERE kind = 'msg';
-- Transactions sent for a job: "has the relayer acted on this message?"
CREATE INDEX transactions_job_idx ON transactions (job_id) WHERE job_id IS NOT NULL;

-- The watcher writes events in batches of thousands per range; the
-- per-row foreign-key check on chain_key was about a third of the insert
-- time (bench-watch).  The watcher reads and locks its chain row (FOR
-- UPDATE) in the same transaction as the insert, so the key is checked
-- once per range instead; chains rows are never deleted.
ALTER TABLE events DROP CONSTRAINT events_chain_key_fkey;
