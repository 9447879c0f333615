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
 *     short inline nodes (canonical RLP all through), and the value slot is
 *     a string;
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

    /**
     * Whether [s, e) is a sequence of canonical RLP items, lists checked
     * recursively: an inline node (under 32 bytes, so the depth is bounded)
     * must be well-formed all through, whether the walk enters it or not.
     */
    function wellFormed(bytes calldata data, uint256 s, uint256 e) private pure returns (bool) {
        while (s < e) {
            (bool ok, bool isList, uint256 ps, uint256 pe) = RLPReader.item(data, s, e);
            if (!ok || (isList && !wellFormed(data, ps, pe))) return false;
            s = pe;
        }
        return true;
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
            // Fast paths for the usual slots: empty (0x80) and a 32-byte hash (0xa0).
            uint256 h = p < ne ? uint8(proof[p]) : 0xff;
            if (h == 0x80 && i < 16) {
                (isList, s, e) = (false, p + 1, p + 1);
                if (e > ne) return (FAIL, 0, 0);
            } else if (h == 0xa0 && i < 16) {
                (isList, s, e) = (false, p + 1, p + 33);
                if (e > ne) return (FAIL, 0, 0);
            } else {
                (ok, isList, s, e) = RLPReader.item(proof, p, ne);
                if (!ok) return (FAIL, 0, 0);
            }
            if (i < 16) {
                if (isList ? (e - p >= 32 || !wellFormed(proof, s, e)) : (e - s != 0 && e - s != 32)) {
                    return (FAIL, 0, 0);
                }
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
        (bool ok, bool isList, uint256 s1, uint256 e1) = RLPReader.item(proof, e0, ne);
        if (!ok) return (FAIL, 0, 0, 0, false);
        // Leaf or extension, its path must be the key's next hpLen nibbles.
        if (!pathMatches(path, pos, proof[s0:e0], skip, hpLen)) return (FAIL, 0, 0, 0, false);
        newPos = pos + hpLen;
        if ((flag & 2) != 0) {
            // Leaf: found only if its path is all the rest of the key.
            if (isList || e1 == s1 || newPos != path.length * 2) return (FAIL, 0, 0, 0, false);
            return (VALUE, s1, e1, newPos, false);
        }
        // Extension: a non-empty path and a child.
        if (hpLen == 0) return (FAIL, 0, 0, 0, false);
        if (isList) {
            if (e1 - e0 >= 32 || !wellFormed(proof, s1, e1)) return (FAIL, 0, 0, 0, false);
            return (INLINE, s1, e1, newPos, true);
        }
        if (e1 - s1 != 32) return (FAIL, 0, 0, 0, false);
        return (HASH, s1, e1, newPos, true);
    }

    /**
     * Whether nibbles [skip, skip + n) of the hex-prefix bytes `hp` equal
     * nibbles [pos, pos + n) of `path`.  When both start at the same parity
     * the bytes are compared whole.
     */
    function pathMatches(bytes calldata path, uint256 pos, bytes calldata hp, uint256 skip, uint256 n)
        private
        pure
        returns (bool)
    {
        if (pos + n > path.length * 2) return false;
        if ((skip & 1) != (pos & 1)) {
            for (uint256 m = 0; m < n; m++) {
                if (nibble(hp, skip + m) != nibble(path, pos + m)) return false;
            }
            return true;
        }
        if ((skip & 1) == 1) {
            // n >= 1 here: an odd path has at least one nibble.
            if ((uint8(hp[0]) & 0x0f) != (uint8(path[pos >> 1]) & 0x0f)) return false;
            pos++;
        }
        // Both at a byte boundary now: hp[1:] against the same number of path bytes.
        uint256 len = hp.length - 1;
        uint256 start = pos >> 1;
        bytes calldata x = hp[1:];
        bytes calldata y = path[start:start + len];
        if (len <= 32) return bytes32(x) == bytes32(y);
        return keccak256(x) == keccak256(y);
    }
}
