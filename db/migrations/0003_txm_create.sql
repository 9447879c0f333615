-- 0003_txm_create.sql - contract creations through the transaction manager,
-- and what a mined transaction produced (the attempt that was mined, the
-- created contract's address).
--
-- A creation has no `to`: to_address is NULL exactly when is_create is set,
-- so an ordinary call can still never lose its target.
SET LOCAL search_path = mosaic;

ALTER TABLE transactions ADD COLUMN is_create boolean NOT NULL DEFAULT false;
ALTER TABLE transactions ALTER COLUMN to_address DROP NOT NULL;
ALTER TABLE transactions ADD CONSTRAINT transactions_create_has_no_to
    CHECK ((to_address IS NULL) = is_create);

-- Filled from the receipt when the transaction is included (cleared when it
-- is reorged out): the hash of the attempt that was mined and, for a
-- successful creation, the new contract's address.
ALTER TABLE transactions ADD COLUMN mined_tx_hash hash32;
ALTER TABLE transactions ADD COLUMN contract_address address;
ALTER TABLE transactions ADD CONSTRAINT transactions_mined_hash_when_included
    CHECK (mined_tx_hash IS NULL OR state IN ('included', 'final'));
ALTER TABLE transactions ADD CONSTRAINT transactions_contract_of_creation
    CHECK (contract_address IS NULL OR (is_create AND state IN ('included', 'final')));

COMMENT ON COLUMN transactions.is_create IS 'A contract creation: no to_address, calldata is the init code.';
COMMENT ON COLUMN transactions.contract_address IS 'The contract a successful creation made (from its receipt).';
