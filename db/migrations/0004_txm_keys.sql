-- 0004_txm_keys.sql - a key the transaction manager stopped sending from,
-- and nonces freed by aborted transactions.
--
-- A key is halted when someone else used it (its nonce on chain moved past
-- ours, or a nonce of ours was taken by a transaction that is not ours):
-- nothing more is sent from it until an operator clears the halt.  The halt
-- is kept here, not in memory, so a restart does not resume silently.
SET LOCAL search_path = mosaic;

ALTER TABLE signer_nonces ADD COLUMN halted_reason text;
ALTER TABLE signer_nonces ADD COLUMN halted_at timestamptz;
ALTER TABLE signer_nonces ADD CONSTRAINT signer_nonces_halt_pair
    CHECK ((halted_reason IS NULL) = (halted_at IS NULL));

-- An aborted transaction (never broadcast, given up) or a failed one no
-- longer holds its nonce: a 0-value self transaction may fill the gap it
-- left (one live row per nonce still).
ALTER TABLE transactions DROP CONSTRAINT transactions_chain_key_sender_nonce_key;
CREATE UNIQUE INDEX transactions_live_nonce_idx ON transactions (chain_key, sender, nonce)
    WHERE state NOT IN ('aborted', 'failed');

-- One open alert per condition: raising it again while it is open adds
-- nothing.
CREATE UNIQUE INDEX alerts_open_once_idx ON alerts (component, coalesce(subject, ''), message)
    WHERE acknowledged_at IS NULL;
