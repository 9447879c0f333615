// SPDX-License-Identifier: UNLICENSED
// Test-only contracts for the watcher tests (tests/unit/test_watcher.c):
// gateway-shaped contracts that emit the events of mosaic-protocol.md §2.6
// with the real message hashes and a GatewayBase-like messages() getter,
// that can misbehave on purpose (a stake without the token transfer, an
// event that does not match the hashed message), and that emit many
// events per transaction cheaply for the backfill tests.
pragma solidity ^0.8.0;

contract TestToken {
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    function mint(address to, uint256 v) external {
        balanceOf[to] += v;
        emit Transfer(address(0), to, v);
    }

    function approve(address spender, uint256 v) external returns (bool) {
        allowance[msg.sender][spender] = v;
        emit Approval(msg.sender, spender, v);
        return true;
    }

    function transferFrom(address from, address to, uint256 v) external returns (bool) {
        require(allowance[from][msg.sender] >= v, "allowance");
        require(balanceOf[from] >= v, "balance");
        allowance[from][msg.sender] -= v;
        balanceOf[from] -= v;
        balanceOf[to] += v;
        emit Transfer(from, to, v);
        return true;
    }
}

contract TestGateway {
    struct Message {
        bytes32 intentHash;
        uint256 nonce;
        uint256 gasPrice;
        uint256 gasLimit;
        address sender;
        bytes32 hashLock;
        uint256 gasConsumed;
    }

    // keccak256(abi.encode(string)): mosaic-protocol.md §3.1.
    bytes32 constant MESSAGE_TYPEHASH = keccak256(abi.encode(
        "Message(bytes32 intentHash,uint256 nonce,uint256 gasPrice,uint256 gasLimit,address sender,bytes32 hashLock)"));
    bytes32 constant STAKE_INTENT_TYPEHASH = keccak256(abi.encode(
        "StakeIntent(uint256 amount,address beneficiary,address gateway)"));
    bytes32 constant REDEEM_INTENT_TYPEHASH = keccak256(abi.encode(
        "RedeemIntent(uint256 amount,address beneficiary,address gateway)"));

    mapping(bytes32 => Message) public messages;
    TestToken public token;

    event StakeIntentDeclared(bytes32 indexed _messageHash, address _staker, uint256 _stakerNonce, address _beneficiary, uint256 _amount);
    event StakeProgressed(bytes32 indexed _messageHash, address _staker, uint256 _stakerNonce, uint256 _amount, bool _proofProgress, bytes32 _unlockSecret);
    event RevertStakeIntentDeclared(bytes32 indexed _messageHash, address _staker, uint256 _stakerNonce, uint256 _amount);
    event StakeReverted(bytes32 indexed _messageHash, address _staker, uint256 _stakerNonce, uint256 _amount);
    event RedeemIntentConfirmed(bytes32 indexed _messageHash, address _redeemer, uint256 _redeemerNonce, address _beneficiary, uint256 _amount, uint256 _blockHeight, bytes32 _hashLock);
    event UnstakeProgressed(bytes32 indexed _messageHash, address _redeemer, address _beneficiary, uint256 _redeemAmount, uint256 _unstakeAmount, uint256 _rewardAmount, bool _proofProgress, bytes32 _unlockSecret);
    event RevertRedeemIntentConfirmed(bytes32 indexed _messageHash, address _redeemer, uint256 _redeemerNonce, uint256 _amount);
    event RevertRedeemComplete(bytes32 indexed _messageHash, address _redeemer, uint256 _redeemerNonce, uint256 _amount);
    event StakeIntentConfirmed(bytes32 indexed _messageHash, address _staker, uint256 _stakerNonce, address _beneficiary, uint256 _amount, uint256 _blockHeight, bytes32 _hashLock);
    event MintProgressed(bytes32 indexed _messageHash, address _staker, address _beneficiary, uint256 _stakeAmount, uint256 _mintedAmount, uint256 _rewardAmount, bool _proofProgress, bytes32 _unlockSecret);
    event RevertStakeIntentConfirmed(bytes32 indexed _messageHash, address _staker, uint256 _stakerNonce, uint256 _amount);
    event RevertStakeProgressed(bytes32 indexed _messageHash, address _staker, uint256 _stakerNonce, uint256 _amount);
    event RedeemIntentDeclared(bytes32 indexed _messageHash, address _redeemer, uint256 _redeemerNonce, address _beneficiary, uint256 _amount);
    event RedeemProgressed(bytes32 indexed _messageHash, address _redeemer, uint256 _redeemerNonce, uint256 _amount, bool _proofProgress, bytes32 _unlockSecret);
    event RevertRedeemDeclared(bytes32 indexed _messageHash, address _redeemer, uint256 _redeemerNonce, uint256 _amount);
    event RedeemReverted(bytes32 indexed _messageHash, address _redeemer, uint256 _redeemerNonce, uint256 _amount);
    event GatewayProven(address _gateway, uint256 _blockHeight, bytes32 _storageRoot, bool _wasAlreadyProved);
    event BountyChangeInitiated(uint256 _currentBounty, uint256 _proposedBounty, uint256 _unlockHeight);
    event BountyChangeConfirmed(uint256 _currentBounty, uint256 _changedBounty);

    constructor(TestToken t) {
        token = t;
    }

    function declare(bytes32 typehash, uint256 amount, address beneficiary, uint256 gasPrice,
                     uint256 gasLimit, uint256 nonce, bytes32 hashLock) internal returns (bytes32 mh) {
        bytes32 ih = keccak256(abi.encode(typehash, amount, beneficiary, address(this)));
        mh = keccak256(abi.encode(MESSAGE_TYPEHASH, ih, nonce, gasPrice, gasLimit, msg.sender, hashLock));
        messages[mh] = Message(ih, nonce, gasPrice, gasLimit, msg.sender, hashLock, 0);
    }

    // mode 0: honest; 1: no token transfer (RELIABILITY.md row 22);
    // 2: the event's amount is not the hashed one.
    function stake(uint256 amount, address beneficiary, uint256 gasPrice, uint256 gasLimit,
                   uint256 nonce, bytes32 hashLock, uint8 mode) external returns (bytes32 mh) {
        mh = declare(STAKE_INTENT_TYPEHASH, amount, beneficiary, gasPrice, gasLimit, nonce, hashLock);
        if (mode != 1)
            require(token.transferFrom(msg.sender, address(this), amount), "transfer");
        emit StakeIntentDeclared(mh, msg.sender, nonce, beneficiary, mode == 2 ? amount + 1 : amount);
    }

    function redeem(uint256 amount, address beneficiary, uint256 gasPrice, uint256 gasLimit,
                    uint256 nonce, bytes32 hashLock, uint8 mode) external returns (bytes32 mh) {
        mh = declare(REDEEM_INTENT_TYPEHASH, amount, beneficiary, gasPrice, gasLimit, nonce, hashLock);
        if (mode != 1)
            require(token.transferFrom(msg.sender, address(this), amount), "transfer");
        emit RedeemIntentDeclared(mh, msg.sender, nonce, beneficiary, mode == 2 ? amount + 1 : amount);
    }

    // Any event of the table by its index in watchers/events.h (enum
    // watch_kind), about message mh, with x in its numbers.
    function emitKind(uint256 k, bytes32 mh, uint256 x) public {
        address a = msg.sender;
        if (k == 0) emit StakeIntentDeclared(mh, a, x, a, x + 1);
        else if (k == 1) emit StakeProgressed(mh, a, x, x + 1, false, keccak256(abi.encode(x)));
        else if (k == 2) emit RevertStakeIntentDeclared(mh, a, x, x + 1);
        else if (k == 3) emit StakeReverted(mh, a, x, x + 1);
        else if (k == 4) emit RedeemIntentConfirmed(mh, a, x, a, x + 1, x + 2, mh);
        else if (k == 5) emit UnstakeProgressed(mh, a, a, x, x + 1, 1, true, bytes32(0));
        else if (k == 6) emit RevertRedeemIntentConfirmed(mh, a, x, x + 1);
        else if (k == 7) emit RevertRedeemComplete(mh, a, x, x + 1);
        else if (k == 8) emit StakeIntentConfirmed(mh, a, x, a, x + 1, x + 2, mh);
        else if (k == 9) emit MintProgressed(mh, a, a, x, x + 1, 1, false, keccak256(abi.encode(x)));
        else if (k == 10) emit RevertStakeIntentConfirmed(mh, a, x, x + 1);
        else if (k == 11) emit RevertStakeProgressed(mh, a, x, x + 1);
        else if (k == 12) emit RedeemIntentDeclared(mh, a, x, a, x + 1);
        else if (k == 13) emit RedeemProgressed(mh, a, x, x + 1, true, bytes32(0));
        else if (k == 14) emit RevertRedeemDeclared(mh, a, x, x + 1);
        else if (k == 15) emit RedeemReverted(mh, a, x, x + 1);
        else if (k == 16) emit GatewayProven(a, x, mh, x % 2 == 1);
        else if (k == 17) emit BountyChangeInitiated(x, x + 1, x + 2);
        else if (k == 18) emit BountyChangeConfirmed(x, x + 1);
    }

    // n events of the origin gateway's kinds other than the declaration
    // (kinds 1..7, 16..18), about messages keccak256(seed, i).
    function emitMany(uint256 n, uint256 seed) external {
        uint8[10] memory ks = [1, 2, 3, 4, 5, 6, 7, 16, 17, 18];
        for (uint256 i = 0; i < n; i++)
            emitKind(ks[i % 10], keccak256(abi.encode(seed, i)), seed + i);
    }
}

contract TestAnchor {
    event StateRootAvailable(uint256 _blockHeight, bytes32 _stateRoot);

    function anchorStateRoot(uint256 h, bytes32 root) external returns (bool) {
        emit StateRootAvailable(h, root);
        return true;
    }
}
