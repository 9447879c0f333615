-- 0001_core.sql - the relayer's memory: chains, headers, events, messages,
-- secrets, anchors, the transaction manager's records, and the job queue.
--
-- Forward-only: never edit this file once released; add 0002_... instead
-- (the migrator refuses a database whose applied checksum differs).
-- Every state column is an explicit, CHECKed state machine; byte strings are
-- bytea with their length checked; token amounts are numeric(78,0) (2^256
-- has 78 decimal digits).

CREATE SCHEMA IF NOT EXISTS mosaic;
SET LOCAL search_path = mosaic;

-- Domains for the byte strings of Ethereum.
CREATE DOMAIN mosaic.hash32 AS bytea CHECK (octet_length(VALUE) = 32);
CREATE DOMAIN mosaic.address AS bytea CHECK (octet_length(VALUE) = 20);
CREATE DOMAIN mosaic.uint256 AS numeric(78,0)
    CHECK (VALUE >= 0 AND VALUE < 115792089237316195423570985008687907853269984665640564039457584007913129639936);

-- ---------------------------------------------------------------- chains --
CREATE TABLE chains (
    chain_key       text PRIMARY KEY CHECK (chain_key ~ '^[a-z][a-z0-9_-]{0,31}$'),
    chain_id        bigint NOT NULL UNIQUE CHECK (chain_id > 0),
    role            text NOT NULL CHECK (role IN ('origin', 'auxiliary')),
    -- The watcher's cursor: every block <= cursor_block has been ingested.
    cursor_block    bigint CHECK (cursor_block >= 0),
    cursor_hash     hash32,
    head_block      bigint CHECK (head_block >= 0),
    finalized_block bigint CHECK (finalized_block >= 0),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((cursor_block IS NULL) = (cursor_hash IS NULL))
);
COMMENT ON TABLE chains IS
    'One row per chain the relayer follows; the watcher cursor and the last seen head and finalized head.';

-- Recent headers of ingested blocks, for reorganisation detection: a new
-- block whose parent_hash differs from the stored hash at number-1 means the
-- chain reorganised below it.
CREATE TABLE block_headers (
    chain_key   text NOT NULL REFERENCES chains ON DELETE CASCADE,
    number      bigint NOT NULL CHECK (number >= 0),
    hash        hash32 NOT NULL,
    parent_hash hash32 NOT NULL,
    state_root  hash32,
    seen_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chain_key, number),
    UNIQUE (chain_key, hash)
);
COMMENT ON TABLE block_headers IS
    'Headers of recently ingested blocks (number, hash, parent) per chain, for reorg detection.';

-- --------------------------------------------------------------- events --
CREATE TABLE events (
    id           bigserial PRIMARY KEY,
    chain_key    text NOT NULL REFERENCES chains,
    block_number bigint NOT NULL CHECK (block_number >= 0),
    block_hash   hash32 NOT NULL,
    tx_hash      hash32 NOT NULL,
    tx_index     integer NOT NULL CHECK (tx_index >= 0),
    log_index    integer NOT NULL CHECK (log_index >= 0),
    address      address NOT NULL,
    kind         text NOT NULL CHECK (kind IN (
        'StakeIntentDeclared', 'StakeProgressed', 'RevertStakeIntentDeclared', 'StakeReverted',
        'RedeemIntentConfirmed', 'UnstakeProgressed', 'RevertRedeemIntentConfirmed',
        'StakeIntentConfirmed', 'MintProgressed', 'RevertStakeIntentConfirmed',
        'RedeemIntentDeclared', 'RedeemProgressed', 'RevertRedeemDeclared', 'RedeemReverted',
        'GatewayProven', 'StateRootAvailable', 'BountyChangeInitiated', 'BountyChangeConfirmed')),
    message_hash hash32,
    fields       jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (chain_key, block_hash, log_index)
);
CREATE INDEX events_message_idx ON events (message_hash) WHERE message_hash IS NOT NULL;
CREATE INDEX events_chain_block_idx ON events (chain_key, block_number);
COMMENT ON TABLE events IS
    'Decoded gateway, co-gateway and anchor events; unique per (chain, block hash, log index) so a rescan inserts nothing twice.';

-- ------------------------------------------------------------- messages --
-- Status codes mirror MessageBus (mosaic-protocol.md §4.1):
-- 0 Undeclared, 1 Declared, 2 Progressed, 3 DeclaredRevocation, 4 Revoked.
CREATE TABLE messages (
    message_hash      hash32 PRIMARY KEY,
    flow              text NOT NULL CHECK (flow IN ('stake', 'redeem')),
    gateway_pair      text NOT NULL,
    source_chain      text NOT NULL REFERENCES chains,
    target_chain      text NOT NULL REFERENCES chains,
    intent_hash       hash32 NOT NULL,
    sender            address NOT NULL,
    nonce             uint256 NOT NULL,
    beneficiary       address NOT NULL,
    amount            uint256 NOT NULL CHECK (amount > 0),
    gas_price         uint256 NOT NULL,
    gas_limit         uint256 NOT NULL,
    hashlock          hash32 NOT NULL,
    -- On-chain status as last observed: outbox on the source, inbox on the target.
    source_status     smallint NOT NULL DEFAULT 1 CHECK (source_status BETWEEN 0 AND 4),
    target_status     smallint NOT NULL DEFAULT 0 CHECK (target_status BETWEEN 0 AND 4),
    -- What the relayer is doing with it.
    state             text NOT NULL DEFAULT 'declared' CHECK (state IN (
        'declared', 'anchoring', 'proving', 'confirming', 'progressing',
        'completed', 'reverting', 'reverted', 'halted', 'refused')),
    halted_reason     text,
    declared_block    bigint NOT NULL CHECK (declared_block >= 0),
    anchor_height     bigint CHECK (anchor_height >= 0),
    confirmed_block   bigint CHECK (confirmed_block >= 0),
    source_done_block bigint CHECK (source_done_block >= 0),
    target_done_block bigint CHECK (target_done_block >= 0),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    completed_at      timestamptz,
    CHECK (source_chain <> target_chain),
    CHECK ((state = 'halted') = (halted_reason IS NOT NULL) OR state = 'refused'),
    CHECK ((state IN ('completed', 'reverted')) = (completed_at IS NOT NULL))
);
CREATE INDEX messages_open_idx ON messages (state, updated_at)
    WHERE state NOT IN ('completed', 'reverted', 'refused');
CREATE INDEX messages_sender_idx ON messages (source_chain, sender, nonce);
COMMENT ON TABLE messages IS
    'One row per Mosaic message (stake or redeem), keyed by message hash: its fields, the on-chain status on each side, and the relayer''s own state machine.';

-- Unlock secrets live apart so that they can be locked down: no dashboard
-- view and no read-only role ever sees this table.
CREATE TABLE unlock_secrets (
    message_hash hash32 PRIMARY KEY REFERENCES messages ON DELETE CASCADE,
    hashlock     hash32 NOT NULL,
    secret       hash32 NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revealed_at  timestamptz
);
-- Secrets created before their message is declared (we give out the hashlock
-- first): keyed by hashlock until the message hash is known.
CREATE TABLE pending_secrets (
    hashlock   hash32 PRIMARY KEY,
    secret     hash32 NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON unlock_secrets, pending_secrets FROM PUBLIC;
COMMENT ON TABLE unlock_secrets IS
    'Hashlock secrets of messages the relayer facilitates. Never exposed through views; revealed only by the progress calls.';
COMMENT ON TABLE pending_secrets IS
    'Secrets whose hashlock was handed out but whose message is not declared yet.';

-- -------------------------------------------------------------- anchors --
CREATE TABLE anchors (
    chain_key    text NOT NULL REFERENCES chains,      -- where the Anchor contract lives
    remote_chain text NOT NULL REFERENCES chains,      -- whose state roots it stores
    block_height bigint NOT NULL CHECK (block_height > 0),
    state_root   hash32 NOT NULL,
    tx_hash      hash32,
    observed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chain_key, remote_chain, block_height),
    CHECK (chain_key <> remote_chain)
);
COMMENT ON TABLE anchors IS
    'State roots anchored on a chain for its remote chain (from StateRootAvailable events or our own anchor transactions).';

-- --------------------------------------------------- transaction manager --
CREATE TABLE signer_nonces (
    chain_key  text NOT NULL REFERENCES chains,
    sender     address NOT NULL,
    next_nonce bigint NOT NULL CHECK (next_nonce >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chain_key, sender)
);
COMMENT ON TABLE signer_nonces IS 'Next nonce to allocate per (chain, sender); allocation is a row update in the intent''s transaction.';

CREATE TABLE transactions (
    id                  bigserial PRIMARY KEY,
    chain_key           text NOT NULL REFERENCES chains,
    sender              address NOT NULL,
    nonce               bigint NOT NULL CHECK (nonce >= 0),
    job_id              bigint,
    purpose             text NOT NULL,                -- e.g. 'confirmStakeIntent'
    to_address          address NOT NULL,
    calldata            bytea NOT NULL,
    value               uint256 NOT NULL DEFAULT 0,
    gas_limit           bigint NOT NULL CHECK (gas_limit > 0),
    state               text NOT NULL DEFAULT 'intent' CHECK (state IN (
        'intent', 'signed', 'broadcast', 'included', 'final', 'failed', 'aborted')),
    included_block      bigint,
    included_block_hash hash32,
    receipt_status      smallint CHECK (receipt_status IN (0, 1)),
    gas_used            bigint,
    error               text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (chain_key, sender, nonce),
    CHECK ((state IN ('included', 'final')) = (included_block IS NOT NULL))
);
CREATE INDEX transactions_open_idx ON transactions (chain_key, sender, nonce)
    WHERE state IN ('intent', 'signed', 'broadcast', 'included');
COMMENT ON TABLE transactions IS
    'One row per nonce the relayer uses: the intent (call X on chain Y for job J) and its life until final.';

-- Each signed version of a transaction (the first and every fee-bumped
-- replacement).  The raw bytes are stored before they are broadcast, so a
-- crash resends the identical bytes.
CREATE TABLE tx_attempts (
    tx_id            bigint NOT NULL REFERENCES transactions ON DELETE CASCADE,
    attempt          integer NOT NULL CHECK (attempt >= 1),
    tx_hash          hash32 NOT NULL UNIQUE,
    raw              bytea NOT NULL,
    max_fee          uint256 NOT NULL,
    max_priority_fee uint256 NOT NULL,
    broadcast_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tx_id, attempt)
);
COMMENT ON TABLE tx_attempts IS 'Signed attempts of a transaction (original and replacements), stored before broadcast.';

-- --------------------------------------------------------------- alerts --
CREATE TABLE alerts (
    id              bigserial PRIMARY KEY,
    severity        text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    component       text NOT NULL,
    subject         text,                 -- e.g. a message hash or chain key
    message         text NOT NULL,
    raised_at       timestamptz NOT NULL DEFAULT now(),
    acknowledged_at timestamptz
);
CREATE INDEX alerts_open_idx ON alerts (raised_at) WHERE acknowledged_at IS NULL;
COMMENT ON TABLE alerts IS 'Conditions an operator must look at (reorg of an acted-on event, hash mismatch, key used elsewhere).';
