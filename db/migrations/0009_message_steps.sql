-- 0009_message_steps.sql - every message and every step it went through,
-- for `mosaic-relayer message show|list` and for dashboards (read-only role).
--
-- A step is an event about the message (mosaic-protocol.md §2.6) or, for the
-- two steps no message event marks, the anchor and the gateway proof the
-- confirmation used on the target chain: the first state root of the source
-- chain anchored on the target chain at a height >= the declaration's block
-- (or at the message's anchor_height, the height its confirmation used, once
-- the relayer picked one), and the GatewayProven event of the message's pair
-- at that height (0005: events.gateway_pair).  No secret is reachable here.

CREATE VIEW mosaic_dash.messages AS
    SELECT m.message_hash,
           '0x' || encode(m.message_hash, 'hex') AS hash,
           m.flow, m.gateway_pair, m.source_chain, m.target_chain,
           '0x' || encode(m.sender, 'hex') AS sender, m.nonce,
           '0x' || encode(m.beneficiary, 'hex') AS beneficiary,
           m.amount, m.gas_price, m.gas_limit,
           m.source_status, m.target_status, m.state, m.halted_reason,
           m.declared_block, m.anchor_height, m.confirmed_block,
           m.source_done_block, m.target_done_block,
           m.created_at, m.updated_at, m.completed_at
    FROM mosaic.messages m;
COMMENT ON VIEW mosaic_dash.messages IS
    'Messages (stake and redeem) with their fields, on-chain statuses and relayer state; hashes and addresses also as 0x text.';

CREATE VIEW mosaic_dash.message_steps AS
    SELECT m.message_hash, '0x' || encode(m.message_hash, 'hex') AS hash,
           s.step_order, s.step, s.chain_key, s.event,
           '0x' || encode(s.tx_hash, 'hex') AS tx_hash, s.block_number, s.height, s.at
    FROM mosaic.messages m
    LEFT JOIN LATERAL (
        SELECT a.chain_key, a.block_height, a.tx_hash, a.observed_at
        FROM mosaic.anchors a
        WHERE a.chain_key = m.target_chain AND a.remote_chain = m.source_chain
          AND a.block_height >= coalesce(m.anchor_height, m.declared_block)
        ORDER BY a.block_height LIMIT 1) an ON true
    LEFT JOIN LATERAL (
        SELECT ev.block_number
        FROM mosaic.events ev
        WHERE ev.chain_key = an.chain_key AND ev.tx_hash = an.tx_hash
          AND ev.kind = 'StateRootAvailable'
        ORDER BY ev.block_number LIMIT 1) anb ON true
    CROSS JOIN LATERAL (
        SELECT CASE
                 WHEN e.kind IN ('StakeIntentDeclared', 'RedeemIntentDeclared') THEN 1
                 WHEN e.kind IN ('StakeIntentConfirmed', 'RedeemIntentConfirmed') THEN 4
                 WHEN e.kind IN ('StakeProgressed', 'RedeemProgressed') THEN 5
                 WHEN e.kind IN ('MintProgressed', 'UnstakeProgressed') THEN 6
                 WHEN e.kind IN ('RevertStakeIntentDeclared', 'RevertRedeemDeclared') THEN 7
                 WHEN e.kind IN ('RevertStakeIntentConfirmed', 'RevertRedeemIntentConfirmed') THEN 8
                 WHEN e.kind IN ('StakeReverted', 'RedeemReverted') THEN 9
               END AS step_order,
               CASE
                 WHEN e.kind IN ('StakeIntentDeclared', 'RedeemIntentDeclared') THEN 'declared'
                 WHEN e.kind IN ('StakeIntentConfirmed', 'RedeemIntentConfirmed') THEN 'confirmed'
                 WHEN e.kind IN ('StakeProgressed', 'RedeemProgressed') THEN 'progressed_source'
                 WHEN e.kind IN ('MintProgressed', 'UnstakeProgressed') THEN 'progressed_target'
                 WHEN e.kind IN ('RevertStakeIntentDeclared', 'RevertRedeemDeclared') THEN 'revert_declared'
                 WHEN e.kind IN ('RevertStakeIntentConfirmed', 'RevertRedeemIntentConfirmed') THEN 'revert_confirmed'
                 WHEN e.kind IN ('StakeReverted', 'RedeemReverted') THEN 'reverted'
               END AS step,
               e.chain_key, e.kind AS event, e.tx_hash, e.block_number,
               NULL::bigint AS height, e.created_at AS at
        FROM mosaic.events e
        WHERE e.message_hash = m.message_hash
        UNION ALL
        SELECT 2, 'anchored', an.chain_key, 'StateRootAvailable', an.tx_hash, anb.block_number,
               an.block_height, an.observed_at
        WHERE an.block_height IS NOT NULL
        UNION ALL
        SELECT 3, 'proven', g.chain_key, g.kind, g.tx_hash, g.block_number, an.block_height,
               g.created_at
        FROM (SELECT gp.chain_key, gp.kind, gp.tx_hash, gp.block_number, gp.created_at
              FROM mosaic.events gp
              WHERE an.block_height IS NOT NULL AND gp.chain_key = m.target_chain
                AND gp.kind = 'GatewayProven'
                AND (gp.gateway_pair IS NULL OR gp.gateway_pair = m.gateway_pair)
                AND gp.block_number >= coalesce(anb.block_number, 0)
                AND gp.fields ->> 'blockHeight' = an.block_height::text
              ORDER BY gp.block_number LIMIT 1) g
    ) s
    WHERE s.step_order IS NOT NULL;
COMMENT ON VIEW mosaic_dash.message_steps IS
    'Every step of every message (declared, anchored, proven, confirmed, progressed on each side, reverts) with chain, transaction, block and time.';

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mosaic_readonly') THEN
        GRANT SELECT ON mosaic_dash.messages, mosaic_dash.message_steps TO mosaic_readonly;
    END IF;
END
$$;
