pragma circom 2.1.6;

// Templates shared by the attribution circuits.

include "poseidon_hash.circom";
include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";

function ceilLog2(n) {
    var r = 0;
    while ((1 << r) < n) { r++; }
    return r;
}

// A signed integer in [-2^(FB-1), 2^(FB-1)) shifted to [0, 2^FB), range-checked.
template OffsetSigned(FB) {
    signal input in;   // signed value as a field element (negatives wrap mod p)
    signal output out; // in + 2^(FB-1), proven to fit FB bits
    out <== in + (1 << (FB - 1));
    component bits = Num2Bits(FB);
    bits.in <== out;
}

// K signed FB-bit values range-checked and packed PACK per field element, little end first.
template PackSigned(K, FB, PACK) {
    var NCH = (K + PACK - 1) \ PACK;
    signal input in[K];      // signed values
    signal output chunk[NCH]; // chunk[j] = sum_i (in[PACK*j+i] + 2^(FB-1)) * 2^(FB*i)
    component off[K];
    for (var k = 0; k < K; k++) {
        off[k] = OffsetSigned(FB);
        off[k].in <== in[k];
    }
    for (var j = 0; j < NCH; j++) {
        var acc = 0;
        for (var i = 0; i < PACK && PACK * j + i < K; i++) {
            acc += off[PACK * j + i].out * (1 << (FB * i));
        }
        chunk[j] <== acc;
    }
}

// Poseidon Merkle root of 2^DEPTH leaves (binary tree, Poseidon(2) per node).
template MerkleRoot(DEPTH) {
    var N = 1 << DEPTH;
    signal input leaves[N]; // leaf hashes, left to right
    signal output root;     // root of the full tree
    signal node[2 * N - 1]; // node[0] is the root; children of i are 2i+1, 2i+2
    component h[N - 1];
    for (var i = 0; i < N; i++) {
        node[N - 1 + i] <== leaves[i];
    }
    for (var i = N - 2; i >= 0; i--) {
        h[i] = PoseidonHash(2);
        h[i].inputs[0] <== node[2 * i + 1];
        h[i].inputs[1] <== node[2 * i + 2];
        node[i] <== h[i].out;
    }
    root <== node[0];
}

// The index root: leaf_c = Poseidon(payee_c, packed G_c), range-checking every feature.
template IndexRoot(C, K, FB, PACK) {
    var DEPTH = ceilLog2(C);
    var NCH = (K + PACK - 1) \ PACK;
    signal input g[C][K];    // index features per leaf (signed; 0 for padding)
    signal input payee[C];   // payout address per leaf (0 for padding)
    signal output root;      // Poseidon Merkle root over the C leaves
    component gPack[C];
    component leafHash[C];
    component tree = MerkleRoot(DEPTH);
    for (var c = 0; c < C; c++) {
        gPack[c] = PackSigned(K, FB, PACK);
        gPack[c].in <== g[c];
        leafHash[c] = PoseidonHash(1 + NCH);
        leafHash[c].inputs[0] <== payee[c];
        for (var j = 0; j < NCH; j++) {
            leafHash[c].inputs[1 + j] <== gPack[c].chunk[j];
        }
        tree.leaves[c] <== leafHash[c].out;
    }
    root <== tree.root;
}

// q = floor(n / d), proven by n = q*d + r with q < 2^QB, r < d, d < 2^DB (and d > 0).
// n, d must already be bounded so that q*d + r cannot wrap: QB + DB + 1 < 253.
template DivRem(QB, DB) {
    signal input n;         // numerator
    signal input d;         // divisor, 0 < d < 2^DB (the caller's bound)
    signal output q;        // quotient
    signal output r;        // remainder
    q <-- n \ d;
    r <-- n % d;
    n === q * d + r;
    component qBits = Num2Bits(QB);
    qBits.in <== q;
    component rBits = Num2Bits(DB);
    rBits.in <== r;
    component rLtD = LessThan(DB);
    rLtD.in[0] <== r;
    rLtD.in[1] <== d;
    rLtD.out === 1;
}

// q = floor(n / 2^SHIFT), proven by n = q * 2^SHIFT + r with q < 2^QB, r < 2^SHIFT.
// n must be below 2^(QB + SHIFT) < 2^253 so that the decomposition cannot wrap.
template ShiftRight(QB, SHIFT) {
    signal input n;         // value to divide
    signal output q;        // quotient
    signal r;               // remainder
    q <-- n \ (1 << SHIFT);
    r <-- n % (1 << SHIFT);
    n === q * (1 << SHIFT) + r;
    component qBits = Num2Bits(QB);
    qBits.in <== q;
    component rBits = Num2Bits(SHIFT);
    rBits.in <== r;
}
