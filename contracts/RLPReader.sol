// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/**
 * @title RLPReader: strict RLP item headers read in place from calldata.
 *
 * Nothing is copied: an item is a pair of calldata offsets (payload start and
 * end) inside the `bytes calldata` being read.  Headers are canonical
 * (Yellow Paper, Appendix B): a single byte below 0x80 is never wrapped in a
 * string header, the long forms are used only for 56 bytes or more, and
 * their lengths have no leading zero byte.  Every function answers `ok ==
 * false` instead of reverting, so that callers can turn any malformation
 * into a plain "not verified".
 */
library RLPReader {
    /**
     * Reads the header of the item that starts at `pos` and must end at or
     * before `end` (both offsets into `data`, end <= data.length).
     * Returns ok, whether it is a list, and its payload [pstart, pend);
     * pend is also where the next item starts.
     */
    function item(bytes calldata data, uint256 pos, uint256 end)
        internal
        pure
        returns (bool ok, bool isList, uint256 pstart, uint256 pend)
    {
        if (pos >= end) return (false, false, 0, 0);
        uint256 b = uint8(data[pos]);
        uint256 len;
        unchecked {
            if (b < 0x80) {
                return (true, false, pos, pos + 1);
            } else if (b < 0xb8) {
                len = b - 0x80;
                pstart = pos + 1;
                if (len == 1) {
                    if (pstart >= end || uint8(data[pstart]) < 0x80) return (false, false, 0, 0);
                }
            } else if (b < 0xc0) {
                (ok, len, pstart) = longLength(data, pos, end, b - 0xb7);
                if (!ok) return (false, false, 0, 0);
            } else if (b < 0xf8) {
                isList = true;
                len = b - 0xc0;
                pstart = pos + 1;
            } else {
                isList = true;
                (ok, len, pstart) = longLength(data, pos, end, b - 0xf7);
                if (!ok) return (false, false, 0, 0);
            }
            // len < 2^64 and pstart <= end, so this cannot overflow.
            pend = pstart + len;
        }
        if (pend > end) return (false, false, 0, 0);
        return (true, isList, pstart, pend);
    }

    /** Reads the big-endian length of `n` (1..8) bytes after the header byte at pos. */
    function longLength(bytes calldata data, uint256 pos, uint256 end, uint256 n)
        private
        pure
        returns (bool ok, uint256 len, uint256 pstart)
    {
        unchecked {
            pstart = pos + 1 + n;
            if (pstart > end) return (false, 0, 0);
            if (uint8(data[pos + 1]) == 0) return (false, 0, 0);
            for (uint256 i = pos + 1; i < pstart; i++) {
                len = (len << 8) | uint8(data[i]);
            }
        }
        if (len < 56) return (false, 0, 0);
        return (true, len, pstart);
    }

    /**
     * The storage root (third field) of an account leaf
     * RLP([nonce, balance, storageRoot, codeHash]) that must span all of
     * `account`.  Reverts on a malformed account.
     */
    function accountStorageRoot(bytes calldata account) internal pure returns (bytes32 root) {
        (bool ok, bool isList, uint256 p, uint256 end) = item(account, 0, account.length);
        require(ok && isList && end == account.length, "Account RLP must be one list.");
        bool l;
        uint256 s;
        uint256 e;
        for (uint256 i = 0; i < 4; i++) {
            (ok, l, s, e) = item(account, p, end);
            require(ok && !l, "Account RLP field is malformed.");
            if (i == 2) {
                require(e - s == 32, "Account storage root must be 32 bytes.");
                root = bytes32(account[s:e]);
            }
            p = e;
        }
        require(p == end, "Account RLP must have 4 fields.");
    }
}
