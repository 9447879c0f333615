-- 0012_breaker.sql - the conservation circuit breaker (RELIABILITY.md row 24).
--
-- Per gateway pair, the daemon's conservation monitor (relayer/flows/
-- conservation.c) compares the utility token in circulation on the
-- auxiliary chain with the value token backing it on origin, read at a
-- consistent pair of blocks, and records every check here.  When the
-- circulating supply exceeds the backing by more than the excess an
-- operator accepted, the pair's breaker trips: the flows record no call for
-- that pair's messages until an operator resets it (`mosaic-relayer breaker
-- reset PAIR --reason TEXT`).  Every trip and reset is kept in breaker_log.

CREATE TABLE mosaic.breakers (
    gateway_pair    text PRIMARY KEY,
    tripped         boolean NOT NULL DEFAULT false,
    tripped_at      timestamptz,
    trip_reason     text,
    -- The largest excess (circulating - backing) measured since the trip:
    -- a reset accepts it unless the operator says otherwise.  Messages in
    -- flight can only hide part of an excess, never add to it.
    trip_excess     mosaic.uint256,
    -- What an operator accepted at the last reset: circulating may exceed
    -- backing by this much without tripping (0: not at all).
    accepted_excess mosaic.uint256 NOT NULL DEFAULT 0,
    -- The last check: both figures and the blocks they were read at.
    circulating     mosaic.uint256,
    backing         mosaic.uint256,
    aux_chain       text,
    aux_block       bigint CHECK (aux_block >= 0),
    origin_chain    text,
    origin_block    bigint CHECK (origin_block >= 0),
    checked_at      timestamptz,
    checks          bigint NOT NULL DEFAULT 0,
    -- The last check that could not be made (no consistent pair of blocks,
    -- a node down), cleared by the next one that could.
    last_error      text,
    reset_at        timestamptz,
    reset_reason    text,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (tripped = (tripped_at IS NOT NULL))
);
COMMENT ON TABLE mosaic.breakers IS
    'Conservation circuit breaker per gateway pair: the last check, and whether relaying for the pair is stopped.';

CREATE TABLE mosaic.breaker_log (
    id              bigserial PRIMARY KEY,
    gateway_pair    text NOT NULL,
    action          text NOT NULL CHECK (action IN ('trip', 'reset')),
    at              timestamptz NOT NULL DEFAULT now(),
    reason          text NOT NULL CHECK (reason <> ''),
    actor           text NOT NULL,           -- 'monitor host:pid' or 'operator user@host'
    circulating     mosaic.uint256,
    backing         mosaic.uint256,
    aux_block       bigint,
    origin_block    bigint,
    accepted_excess mosaic.uint256
);
CREATE INDEX breaker_log_pair_idx ON mosaic.breaker_log (gateway_pair, at);
COMMENT ON TABLE mosaic.breaker_log IS 'Every trip and reset of a conservation breaker, with the figures.';

CREATE VIEW mosaic_dash.breakers AS
    SELECT b.gateway_pair, b.tripped, b.tripped_at, b.trip_reason, b.trip_excess, b.accepted_excess,
           b.circulating, b.backing, b.circulating - b.backing AS excess,
           b.aux_chain, b.aux_block, b.origin_chain, b.origin_block, b.checked_at,
           extract(epoch FROM now() - b.checked_at)::bigint AS checked_age_seconds,
           b.checks, b.last_error, b.reset_at, b.reset_reason
    FROM mosaic.breakers b;
COMMENT ON VIEW mosaic_dash.breakers IS
    'Conservation breakers: tripped or not, the last figures (circulating on auxiliary, backing on origin) and when.';

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mosaic_readonly') THEN
        GRANT SELECT ON mosaic_dash.breakers TO mosaic_readonly;
    END IF;
END
$$;
