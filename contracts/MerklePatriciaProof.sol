// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {RLPReader} from "./RLPReader.sol";

/**
 * @title MerklePatriciaProof: inclusion proofs of Merkle Patricia tries.
 *
 * `verify(valueHash, path, rlpParentNodes, root)` (selector 0xc5f81822, as in
 * the Mosaic contracts) is true when the proof shows the key whose nibbles
 * are the bytes of `path` holding a value whose keccak256 is `valueHash`.
 * `rlpParentNodes` is an RLP list of the raw proof nodes, root node first (as
 * eth_getProof lists them); it is read in place from calldata.
 *
 * The walk (Yellow Paper, Appendix D) is as strict as the relayer's C
 * verifier (eth/mpt.c), so that both give the same verdict on any proof:
 *   - the first node hashes to the root, every later one to the 32-byte
 *     reference its parent holds; a child shorter than 32 bytes may sit
 *     inline in its parent (a longer inline child is refused);
 *   - a node is a list of 17 items (branch) or 2 (leaf or extension) with
 *     canonical RLP headers; branch slots are empty, 32-byte references or
 *     short inline nodes, and the value slot is a string;
 *   - hex-prefix paths have a flag nibble 0..3 and a zero pad nibble when
 *     even; an extension has a non-empty path and a child, which is a
 *     branch; a leaf has a non-empty value;
 *   - the proof ends with the node that holds the value: no extra nodes;
 *   - at most 65 nodes.
 * Differences from the C verifier, which answers more questions: an empty
 * path is never proven (as in the Mosaic contracts), and only inclusion is
 * answered, so an exclusion proof is simply false.  Nothing reverts: every
 * malformed input gives false.
 */
library MerklePatriciaProof {
    uint256 private constant MAX_NODES = 65;

    uint256 private constant FAIL = 0;   // malformed, or the key is absent
    uint256 private constant VALUE = 1;  // [a, b) is the value's payload
    uint256 private constant HASH = 2;   // proof[a:a+32] is the child's hash
    uint256 private constant INLINE = 3; // [a, b) is the inline child's payload

    function verify(bytes32 value, bytes calldata encodedPath, bytes calldata rlpParentNodes, bytes32 root)
        external
        pure
        returns (bool)
    {
        return verifyInternal(value, encodedPath, rlpParentNodes, root);
    }

    function verifyInternal(bytes32 value, bytes calldata path, bytes calldata proof, bytes32 root)
        internal
        pure
        returns (bool)
    {
        if (path.length == 0) return false;
        (bool ok, bool isList, uint256 p, uint256 listEnd) = RLPReader.item(proof, 0, proof.length);
        if (!ok || !isList || listEnd != proof.length) return false;

        bytes32 want = root;
        uint256 pos = 0; // nibbles of the path consumed
        bool afterExt = false;
        uint256 ns;
        uint256 ne;
        for (uint256 count = 0; count < MAX_NODES; count++) {
            (ok, isList, ns, ne) = RLPReader.item(proof, p, listEnd);
            if (!ok || !isList || keccak256(proof[p:ne]) != want) return false;
            p = ne;
            // This node, then its inline children, if any.
            while (true) {
                uint256 kind;
                uint256 a;
                uint256 b;
                (kind, a, b, pos, afterExt) = step(path, proof, ns, ne, pos, afterExt);
                if (kind == FAIL) return false;
                if (kind == VALUE) return p == listEnd && keccak256(proof[a:b]) == value;
                if (kind == HASH) {
                    want = bytes32(proof[a:a + 32]);
                    break;
                }
                (ns, ne) = (a, b);
            }
        }
        return false;
    }

    /** One node with payload [ns, ne): dispatches on its shape. */
    function step(bytes calldata path, bytes calldata proof, uint256 ns, uint256 ne, uint256 pos, bool afterExt)
        private
        pure
        returns (uint256 kind, uint256 a, uint256 b, uint256 newPos, bool isExt)
    {
        (bool ok, bool l0, uint256 s0, uint256 e0) = RLPReader.item(proof, ns, ne);
        if (!ok) return (FAIL, 0, 0, 0, false);
        uint256 e1;
        (ok, , , e1) = RLPReader.item(proof, e0, ne);
        if (!ok) return (FAIL, 0, 0, 0, false);
        if (e1 != ne) {
            // Not two items: it must be a branch.
            (kind, a, b) = branchStep(path, proof, ns, ne, pos);
            return (kind, a, b, pos + 1, false);
        }
        if (afterExt || l0) return (FAIL, 0, 0, 0, false);
        return shortStep(path, proof, s0, e0, ne, pos);
    }

    /** Nibble i of a byte string in calldata (high nibble first). */
    function nibble(bytes calldata b, uint256 i) private pure returns (uint256) {
        uint256 x = uint8(b[i >> 1]);
        return (i & 1) == 0 ? x >> 4 : x & 0x0f;
    }

    /** A branch whose items start at p and end at ne. */
    function branchStep(bytes calldata path, bytes calldata proof, uint256 p, uint256 ne, uint256 pos)
        private
        pure
        returns (uint256 kind, uint256 a, uint256 b)
    {
        uint256 want = pos < path.length * 2 ? nibble(path, pos) : 16;
        bool ok;
        bool isList;
        uint256 s;
        uint256 e;
        for (uint256 i = 0; i < 17; i++) {
            (ok, isList, s, e) = RLPReader.item(proof, p, ne);
            if (!ok) return (FAIL, 0, 0);
            if (i < 16) {
                if (isList ? e - p >= 32 : (e - s != 0 && e - s != 32)) return (FAIL, 0, 0);
            } else if (isList) {
                return (FAIL, 0, 0);
            }
            if (i == want) {
                if (isList) (kind, a, b) = (INLINE, s, e);
                else if (e == s) kind = FAIL; // empty slot: absent
                else (kind, a, b) = (i == 16 ? VALUE : HASH, s, e);
            }
            p = e;
        }
        if (p != ne) return (FAIL, 0, 0);
    }

    /** A leaf or an extension: hex-prefix path [s0, e0), the second item up to ne. */
    function shortStep(bytes calldata path, bytes calldata proof, uint256 s0, uint256 e0, uint256 ne, uint256 pos)
        private
        pure
        returns (uint256 kind, uint256 a, uint256 b, uint256 newPos, bool isExt)
    {
        if (e0 == s0) return (FAIL, 0, 0, 0, false);
        uint256 first = uint8(proof[s0]);
        uint256 flag = first >> 4;
        if (flag > 3 || ((flag & 1) == 0 && (first & 0x0f) != 0)) return (FAIL, 0, 0, 0, false);
        uint256 skip = (flag & 1) == 1 ? 1 : 2;
        uint256 hpLen = 2 * (e0 - s0) - skip;
        uint256 nkey = path.length * 2;
        uint256 m = 0;
        bytes calldata hp = proof[s0:e0];
        while (m < hpLen && pos + m < nkey && nibble(hp, skip + m) == nibble(path, pos + m)) m++;

        (bool ok, bool isList, uint256 s1, uint256 e1) = RLPReader.item(proof, e0, ne);
        if (!ok) return (FAIL, 0, 0, 0, false);
        if ((flag & 2) != 0) {
            // Leaf: found only if its path is exactly the rest of the key.
            if (isList || e1 == s1 || m != hpLen || pos + m != nkey) return (FAIL, 0, 0, 0, false);
            return (VALUE, s1, e1, pos + m, false);
        }
        // Extension: a non-empty path and a child that the key follows.
        if (hpLen == 0 || m < hpLen) return (FAIL, 0, 0, 0, false);
        if (isList) {
            if (e1 - e0 >= 32) return (FAIL, 0, 0, 0, false);
            return (INLINE, s1, e1, pos + m, true);
        }
        if (e1 - s1 != 32) return (FAIL, 0, 0, 0, false);
        return (HASH, s1, e1, pos + m, true);
    }
}
