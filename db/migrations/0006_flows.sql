-- 0006_flows.sql - what the relayer sent for each message (relayer/flows).
--
-- One row per transaction the flows recorded for a message step, written in
-- the same database transaction as the intent (db/txstore.h) and the
-- message's state change.  A message's next run reads it to know which step
-- is in flight (never send a step twice while its transaction is pending)
-- and which steps reverted (halt instead of paying again and again).
-- Shared calls (anchorStateRoot, proveGateway) serve many messages and are
-- not listed here: the flows find them by purpose, contract and height.
SET LOCAL search_path = mosaic;

CREATE TABLE message_txs (
    message_hash hash32 NOT NULL REFERENCES messages ON DELETE CASCADE,
    tx_id        bigint NOT NULL REFERENCES transactions,
    step         text NOT NULL CHECK (step IN (
        'confirm', 'progress_source', 'progress_target', 'progress_source_proof',
        'progress_target_proof', 'confirm_revert', 'progress_revert')),
    height       bigint CHECK (height > 0),    -- the proven height the call used
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_hash, tx_id)
);
CREATE INDEX message_txs_tx_idx ON message_txs (tx_id);
COMMENT ON TABLE message_txs IS
    'Transactions the relayer recorded for each step of a message (with the proven height used).';

-- The flows find shared calls by (chain, contract, purpose) among recent
-- transactions; their first argument is the height.
CREATE INDEX transactions_purpose_idx ON transactions (chain_key, to_address, purpose, created_at);
