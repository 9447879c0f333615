/*
 * abi.h - the Solidity contract ABI: types, selectors, event topics, encoding
 * and strict decoding of call data, return data, logs and revert data.
 *
 * Reference: Solidity docs, "Contract ABI Specification" (docs/abi-spec.rst):
 * §Types, §Formal Specification of the Encoding, §Events, §Strict Encoding
 * Mode, §Encoding of Indexed Event Parameters.
 *
 * Types.  abi_parse_type() parses a type expression ("uint256", "int8",
 * "address", "bool", "bytes32", "bytes", "string", "uint32[]", "uint8[3][]",
 * "(uint256,bytes)[2]") into a tree of struct abi_type nodes in a caller's
 * array; abi_parse_signature() parses "name(type,type,...)", also in the
 * human form "Name(bytes32 indexed _h, address payable _to, bytes memory _b)".
 * "uint"/"int" mean uint256/int256; whitespace between tokens is ignored.
 * Rejected: N outside uint8..uint256 / int8..int256 or not a multiple of 8
 * (uint7, uint264, int0), bytes0, bytes33, leading zeros (uint08, T[03]),
 * T[0], empty tuples "()" except as an empty parameter list, fixed-point
 * types, nesting deeper than ABI_MAX_DEPTH, heads larger than ABI_MAX_HEAD,
 * and any trailing text.
 *
 * Values.  A struct abi_value is a plain record the caller fills (or the
 * decoder fills); the type tree says how to read it: integers and bool in
 * `num` (int<N> as 256-bit two's complement), address / bytes<N> / bytes /
 * string as `ptr`+`len`, arrays and tuples as `items[count]`.
 *
 * Encoding (abi_encode, abi_encode_call, abi_encode_log, abi_builder) writes
 * the canonical ("strict mode") encoding: heads, then tails in order, offsets
 * relative to the start of the enclosing tuple or array data.  Values are
 * checked against the type: uint<N> must fit N bits, int<N> must be the sign
 * extension of an N-bit value, bool 0 or 1, address 20 bytes, bytes<N>
 * exactly N bytes, T[k] and tuples exactly k / n items.
 *
 * Decoding accepts exactly what the encoder produces, so that
 * encode(decode(x)) == x for every accepted x (the Solidity encoder always
 * writes strict mode; solc's decoder is laxer):
 *   - every offset must equal the position where the tail is due (which
 *     implies: inside the data, word-aligned, no overlap, no gap, no reuse);
 *   - lengths and offsets must fit in 64 bits and in the bytes left; an array
 *     length is checked against the remaining data before anything is
 *     allocated, so "length = 2^255" fails at once;
 *   - padding must be zero: address, uint<N> with N < 256, bool (0 or 1
 *     only), bytes<N> (right-padded), the tail of bytes and string;
 *   - int<N> must be properly sign-extended (0x00.. or 0xff.. above bit N);
 *   - the encoding must use the whole input: no trailing bytes;
 *   - string contents are not checked for UTF-8 (the ABI does not either).
 * Work is linear in the input: every array element takes at least one word
 * of it, offsets cannot alias, and each byte is read once, in order; the
 * value nodes are further bounded by the caller's array.
 *
 * Ownership: no allocation anywhere.  Type nodes live in the caller's array;
 * decoded values live in the caller's array and borrow pointers into the
 * decoded input (and topics), which must outlive them; abi_sig.name borrows
 * the signature text.  Pure: no I/O, no globals.
 */
#ifndef MR_ABI_H
#define MR_ABI_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "u256.h"

/* Deepest nesting of arrays and tuples in a type ("uint8[][]" is 2). */
#define ABI_MAX_DEPTH 16
/* Largest head area of one type in bytes (the size of a static type), so that
 * "uint256[99999999999]" is refused at parse time. */
#define ABI_MAX_HEAD (1u << 20)
/* Type nodes used by the convenience functions that parse a signature on the
 * stack (abi_selector, abi_event_topic, abi_canonical_signature, revert). */
#define ABI_SIG_MAX_NODES 128

enum abi_kind {
    ABI_UINT = 1,      /* uint<N>: size = N bits */
    ABI_INT,           /* int<N>: size = N bits, two's complement */
    ABI_ADDRESS,       /* 20 bytes, left-padded */
    ABI_BOOL,          /* 0 or 1 */
    ABI_FIXED_BYTES,   /* bytes<N>: size = N bytes (1..32), right-padded */
    ABI_BYTES,         /* dynamic bytes */
    ABI_STRING,        /* dynamic bytes, UTF-8 by convention */
    ABI_ARRAY,         /* T[]: child = T */
    ABI_FIXED_ARRAY,   /* T[k]: child = T, count = k */
    ABI_TUPLE          /* (T1,...,Tn): child = T1, each ->next the following */
};

/* One node of a type tree.  Filled by the parsers, read by everything else;
 * build trees with the parsers (the cached fields must be consistent). */
struct abi_type {
    enum abi_kind kind;
    unsigned size;                 /* bits of uint/int; N of bytes<N>; else 0 */
    size_t count;                  /* k of T[k]; components of a tuple */
    const struct abi_type *child;  /* element type, or first tuple component */
    const struct abi_type *next;   /* next component of the enclosing tuple */
    size_t head;                   /* bytes taken in the parent's head: 32 if dynamic */
    size_t heads;                  /* T[k], tuple: size of its own head area */
    unsigned char dynamic;         /* 1 if the encoding has a tail */
    unsigned char indexed;         /* top-level event parameter in the topics */
    unsigned char height;          /* levels of nesting below this node */
};

/* A value.  Which fields matter depends on the type:
 *   uint<N>, int<N>, bool:  num (int<N> sign-extended to 256 bits)
 *   address:                ptr[20]
 *   bytes<N>:               ptr[N]
 *   bytes, string:          ptr[len] (ptr may be NULL when len is 0)
 *   T[], T[k], tuple:       items[count]
 *   indexed event parameter that is not a value type (bytes, string, array,
 *   tuple): ptr[32], the topic, i.e. keccak256 of the value. */
struct abi_value {
    struct u256 num;
    const uint8_t *ptr;
    size_t len;
    const struct abi_value *items;
    size_t count;
};

/* A parsed function or event signature. */
struct abi_sig {
    const char *name;              /* borrowed from the parsed text */
    size_t name_len;
    const struct abi_type *params; /* tuple of parameters, in the caller's nodes */
    uint8_t hash[32];              /* keccak256 of the canonical signature:
                                    * selector = hash[0..4), event topic0 = hash */
};

/* ---- types and signatures ---- */

/* Parses the type expression s[len] into nodes[cap].  Out: nodes[0] is the
 * root; *used (may be NULL) the nodes taken.  The nodes stay owned by the
 * caller and point at each other (do not copy or move the array).  Returns
 * MR_OK, MR_ERR_ABI for a bad type, MR_ERR_TOOBIG if cap is too small. */
int abi_parse_type(const char *s, size_t len, struct abi_type *nodes, size_t cap, size_t *used,
                   struct mr_error *err);

/* Parses "name(param,...)" where a param is a type optionally followed by
 * "payable" (address only), a data location (memory, calldata, storage),
 * "indexed" (top level only) and a name.  Out: nodes as abi_parse_type (root
 * = nodes[0] = the parameter tuple), *sig (name borrows s).  Errors as
 * abi_parse_type. */
int abi_parse_signature(const char *s, size_t len, struct abi_type *nodes, size_t cap,
                        size_t *used, struct abi_sig *sig, struct mr_error *err);

/* Writes the canonical form of type t ("uint256", "(bytes,uint8[3])[]") and a
 * NUL to out[cap].  Returns the length without the NUL; when that is >= cap
 * nothing but (if cap > 0) an empty string is written, so cap 0 is a dry run. */
size_t abi_type_format(const struct abi_type *t, char *out, size_t cap);

/* The canonical signature of s[len] ("f(uint a, bytes b)" -> "f(uint256,bytes)")
 * into out[cap] with a NUL.  Out: *outlen (may be NULL), the length without
 * the NUL.  MR_ERR_TOOBIG if it does not fit (or needs more than
 * ABI_SIG_MAX_NODES type nodes). */
int abi_canonical_signature(const char *s, size_t len, char *out, size_t cap, size_t *outlen,
                            struct mr_error *err);

/* Function selector (first 4 bytes of keccak256 of the canonical signature)
 * and event topic0 (all 32 bytes) of the signature s[len]. */
int abi_selector(const char *s, size_t len, uint8_t out[4], struct mr_error *err);
int abi_event_topic(const char *s, size_t len, uint8_t out[32], struct mr_error *err);

/* ---- values ---- */

/* Value constructors (plain structs; pointers are borrowed, not copied). */
struct abi_value abi_v_uint(uint64_t v);
struct abi_value abi_v_u256(const struct u256 *v);
struct abi_value abi_v_int(int64_t v);
struct abi_value abi_v_bool(int b);
struct abi_value abi_v_address(const uint8_t addr[20]);
/* bytes, string or bytes<N> (len must then be N). */
struct abi_value abi_v_bytes(const void *p, size_t len);
struct abi_value abi_v_list(const struct abi_value *items, size_t count);

/* The int<N> value v as an int64_t.  MR_ERR_RANGE if it does not fit. */
int abi_value_i64(const struct abi_value *v, int64_t *out);

/* ---- encoding ---- */

/* Encodes value v of type t (enc(v) of the spec; call arguments, return
 * values and event data are tuples) into out[cap].  Out: *len, the encoded
 * size, also when the result is MR_ERR_TOOBIG (out untouched), so cap 0 with
 * out NULL is a dry run.  MR_ERR_RANGE / MR_ERR_ABI if v does not match t. */
int abi_encode(const struct abi_type *t, const struct abi_value *v, uint8_t *out, size_t cap,
               size_t *len, struct mr_error *err);

/* Call data: the selector of fn, then args[nargs] encoded as fn's parameter
 * tuple.  Same contract as abi_encode. */
int abi_encode_call(const struct abi_sig *fn, const struct abi_value *args, size_t nargs,
                    uint8_t *out, size_t cap, size_t *len, struct mr_error *err);

/* A log as event ev emits it from args[nargs] (one per parameter, in
 * declaration order; an indexed non-value-type parameter gives its 32-byte
 * topic in ptr).  Out: topics[*ntopics][32] (room for 4), data as abi_encode. */
int abi_encode_log(const struct abi_sig *ev, int anonymous, const struct abi_value *args,
                   size_t nargs, uint8_t topics[4][32], size_t *ntopics, uint8_t *data,
                   size_t cap, size_t *len, struct mr_error *err);

/* Incremental call data for flat argument lists of value types plus bytes /
 * string (the common relayer calls).  Heads go in order into a head area of
 * nargs words; abi_put_bytes() writes its offset there and appends the tail.
 * Past cap the builder only counts, so a run with cap 0 gives the size.
 * Owns nothing; buf is the caller's and must not change during the build. */
struct abi_builder {
    uint8_t *buf;
    size_t cap;
    size_t base;       /* start of the argument block (after the selector) */
    size_t head;       /* next head slot */
    size_t head_end;   /* end of the head area */
    size_t len;        /* bytes produced so far (keeps counting past cap) */
    int bad;           /* more arguments put than declared */
};

/* selector may be NULL (plain abi.encode of the arguments). */
void abi_builder_init(struct abi_builder *b, uint8_t *buf, size_t cap, const uint8_t *selector,
                      size_t nargs);
void abi_put_word(struct abi_builder *b, const uint8_t word[32]);   /* bytes32, raw */
void abi_put_u256(struct abi_builder *b, const struct u256 *v);
void abi_put_u64(struct abi_builder *b, uint64_t v);
void abi_put_bool(struct abi_builder *b, int v);
void abi_put_address(struct abi_builder *b, const uint8_t addr[20]);
void abi_put_bytes(struct abi_builder *b, const uint8_t *data, size_t len); /* bytes, string */
/* Out: *len, the call data size.  Returns MR_ERR_TOOBIG if it exceeded cap
 * (nothing useful in buf then; *len is the size needed), MR_ERR_INVALID if
 * more or fewer than nargs arguments were put. */
int abi_builder_finish(const struct abi_builder *b, size_t *len, struct mr_error *err);

/* ---- decoding ---- */

/* Decodes data[len] as one value of type t (strict mode, see the top).  Out:
 * nodes[0] is the root value, its items and theirs in nodes[1..*used) (used
 * may be NULL); the values borrow data, which must outlive them.  Returns
 * MR_ERR_ABI on any malformed or non-canonical input, MR_ERR_TOOBIG when more
 * than cap nodes would be needed. */
int abi_decode(const struct abi_type *t, const uint8_t *data, size_t len,
               struct abi_value *nodes, size_t cap, size_t *used, struct mr_error *err);

/* Call data for fn: checks the selector, then decodes the arguments; nodes[0]
 * is the argument tuple.  MR_ERR_ABI on a different selector. */
int abi_decode_call(const struct abi_sig *fn, const uint8_t *data, size_t len,
                    struct abi_value *nodes, size_t cap, size_t *used, struct mr_error *err);

/* A log of event ev: topics[ntopics][32] (flat, 32 bytes each) and data.
 * Checks topic0 == ev->hash unless anonymous and that there is exactly one
 * topic per indexed parameter.  Out: nodes[0] is the tuple of all parameters
 * in declaration order; indexed value types are decoded from their topic
 * (with the same padding rules), other indexed types give the 32-byte topic
 * in ptr/len; the rest come from data. */
int abi_decode_log(const struct abi_sig *ev, int anonymous, const uint8_t *topics,
                   size_t ntopics, const uint8_t *data, size_t len, struct abi_value *nodes,
                   size_t cap, size_t *used, struct mr_error *err);

/* Revert data of a failed call (Solidity docs, "Panic via assert and Error
 * via require"): Error(string) 0x08c379a0, Panic(uint256) 0x4e487b71. */
enum abi_revert_kind {
    ABI_REVERT_EMPTY,   /* no data: revert() or out of gas */
    ABI_REVERT_ERROR,   /* Error(string): msg[msg_len], borrowed, not NUL-terminated */
    ABI_REVERT_PANIC,   /* Panic(uint256): code */
    ABI_REVERT_CUSTOM   /* another 4-byte selector (a custom error) */
};

struct abi_revert {
    enum abi_revert_kind kind;
    const char *msg;
    size_t msg_len;
    struct u256 code;
    uint8_t selector[4];
};

/* Classifies and decodes revert data.  MR_ERR_ABI if it is 1 to 3 bytes or a
 * malformed Error / Panic payload. */
int abi_decode_revert(const uint8_t *data, size_t len, struct abi_revert *out,
                      struct mr_error *err);

#endif /* MR_ABI_H */
