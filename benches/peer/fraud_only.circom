pragma circom 2.1.0;
// The fraud-only statement of zkcredit (docs/SPEC.md §6.7), written in circom with circomlib
// for the peer comparison in `zkcredit bench --peer`: one indexed-Merkle-tree
// non-membership lookup at depth `depth` plus the subject commitment. Same hashes, same
// checks, same public inputs [root, subject_commitment] as zkcredit's FraudOnlyCircuit.
include "circomlib/circuits/poseidon.circom";
include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";

template FraudOnly(depth) {
    signal input root;
    signal input commitment;
    signal input key;
    signal input blinding;
    signal input leaf[3];          // key, next_key, commitment of the low leaf (sealed)
    signal input opening[4];       // v0, v1, v2, salt: zeros for a sealed leaf
    signal input index_bits[depth];      // 2 per 4-ary level, little-endian
    signal input siblings[3 * depth \ 2]; // 3 per level, other children in order

    // Subject key in [1, 2^248).
    component key_bits = Num2Bits(248);
    key_bits.in <== key;
    component key_zero = IsZero();
    key_zero.in <== key;
    key_zero.out === 0;

    // subject_commitment = H(TAG_SUBJECT_COMMIT, key, blinding)
    component com = Poseidon(3);
    com.inputs[0] <== 8821253350585757549;
    com.inputs[1] <== key;
    com.inputs[2] <== blinding;
    com.out === commitment;

    // Leaf H(key, next_key, commitment) and 4-ary Merkle path (docs/SPEC.md §4.1, §4.3):
    // per level, place cur among the three siblings at pos = b0 + 2·b1, then
    // H(c0, c1, c2, c3).
    var levels = depth \ 2;
    component leaf_hash = Poseidon(3);
    for (var i = 0; i < 3; i++) { leaf_hash.inputs[i] <== leaf[i]; }
    component nodes[levels];
    signal cur[levels + 1];
    signal e3[levels];
    signal t[levels][4];
    cur[0] <== leaf_hash.out;
    for (var l = 0; l < levels; l++) {
        index_bits[2 * l] * (index_bits[2 * l] - 1) === 0;
        index_bits[2 * l + 1] * (index_bits[2 * l + 1] - 1) === 0;
        e3[l] <== index_bits[2 * l] * index_bits[2 * l + 1];
        nodes[l] = Poseidon(4);
        // e0 = 1 - b0 - b1 + e3, e1 = b0 - e3, e2 = b1 - e3
        nodes[l].inputs[0] <== siblings[3 * l] + (1 - index_bits[2 * l] - index_bits[2 * l + 1] + e3[l]) * (cur[l] - siblings[3 * l]);
        t[l][0] <== (1 - index_bits[2 * l] - index_bits[2 * l + 1] + e3[l]) * siblings[3 * l];
        t[l][1] <== (index_bits[2 * l] - e3[l]) * cur[l];
        nodes[l].inputs[1] <== t[l][0] + t[l][1] + index_bits[2 * l + 1] * siblings[3 * l + 1];
        t[l][2] <== (1 - index_bits[2 * l + 1]) * siblings[3 * l + 1];
        t[l][3] <== (index_bits[2 * l + 1] - e3[l]) * cur[l];
        nodes[l].inputs[2] <== t[l][2] + t[l][3] + e3[l] * siblings[3 * l + 2];
        nodes[l].inputs[3] <== siblings[3 * l + 2] + e3[l] * (cur[l] - siblings[3 * l + 2]);
        cur[l + 1] <== nodes[l].out;
    }
    cur[levels] === root;

    // §4.3 (1b), as zkcredit's gadget: if leaf.key == key (membership), the commitment
    // opens as H(v0, v1, v2, salt); a sealed low leaf's commitment is used as given.
    // (The statement requires absence below, so this branch never binds; kept so both
    // implementations are the same lookup.)
    component eq = IsEqual();
    eq.in[0] <== leaf[0];
    eq.in[1] <== key;
    component opened = Poseidon(4);
    for (var i = 0; i < 4; i++) { opened.inputs[i] <== opening[i]; }
    eq.out * (opened.out - leaf[2]) === 0;

    // Low leaf: leaf.key <= key (248-bit), leaf.key != key (absent).
    component le = Num2Bits(248);
    le.in <== key - leaf[0];
    eq.out === 0;

    // next_key == 0 or key < next_key (248-bit).
    component next_zero = IsZero();
    next_zero.in <== leaf[1];
    signal gap;
    gap <== (1 - next_zero.out) * (leaf[1] - key - 1);
    component lt = Num2Bits(248);
    lt.in <== gap;
}
