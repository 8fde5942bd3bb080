pragma circom 2.1.6;

// Proof of Attribution for a batch: up to M consecutive answers of one adapter version,
// each answer's pool split among the C contributors of the index, summed per contributor,
// and the payout ledger moved from its old root to its new one.
//
// Mirrors attribution/batch.ts (TypeScript) bit for bit; a property test checks the two
// agree, and test/attribution/constants.test.ts checks the shared constants.
//
// The split, per answer i with pool P_i (P for an answer of the batch, 0 for padding):
//   s_ic = max(0, <t_i, G_c>),  S_i = sum_c s_ic,
//   r_i  = floor(P_i * 2^Q / S_i)      (r_i = 0 when P_i = 0; S_i = 0 pays nobody),
// and per contributor over the batch
//   payout_c = floor(sum_i s_ic * r_i / 2^Q).
// With Q = SB + log2(M) this never pays more than the pools, and differs from the sum of
// per-answer floors floor(P_i * s_ic / S_i) by at most M wei (one per answer).
//
// Public signals (all outputs, so each one is constrained by construction):
//   binding       Poseidon(indexRoot, adapterId, chainId, settlement): the index version
//   header        fee + pool * 2^80 + first * 2^160 + count * 2^224
//                 (fee and pool per answer, the first receipt number, the answers in the batch)
//   paid          sum_c payout_c: what the batch credits to contributors (the rest of the pools is dust)
//   receiptsRoot  Poseidon Merkle root over the M receipt commitments (0 for padding)
//   oldRoot       the payout ledger before the batch (0 for a version's first batch)
//   newRoot       the payout ledger after it
// The ledger is a Poseidon Merkle tree over leaf_c = Poseidon(payee_c, cumulative_c).
// A receipt commitment is Poseidon(binding, number, fee, pool, inputHash, outputHash, packed t).

include "common.circom";

template AttributionBatch(C, K, M) {
    var FB = 16;                           // feature bits (signed)
    var PACK = 15;                         // features per packed field element
    var AB = 80;                           // fee and pool bits
    var NB = 64;                           // receipt number bits
    var LB = 96;                           // ledger amount bits (cumulative per contributor)
    var DEPTH = ceilLog2(C);
    var MDEPTH = ceilLog2(M);
    assert(C == (1 << DEPTH));
    assert(M == (1 << MDEPTH));
    var NCH = (K + PACK - 1) \ PACK;       // packed chunks per feature vector
    var SB = 2 * (FB - 1) + ceilLog2(K) + 1; // |<t, G_c>| < 2^SB
    var SUMB = SB + DEPTH;                 // S_i < 2^SUMB
    var Q = SB + MDEPTH;                   // rate bits: the batch rule's precision
    var RB = AB + Q;                       // r_i < 2^RB
    assert(SB + RB + MDEPTH + 1 < 253);    // sum_i s_ic * r_i cannot wrap

    // ---- private inputs -------------------------------------------------
    signal input g[C][K];          // index features G_c (signed; 0 for padding leaves)
    signal input payee[C];         // payout address per leaf (0 for padding)
    signal input adapterId;        // registry id of the adapter
    signal input chainId;          // chain id of the settlement contract
    signal input settlement;       // address of the settlement contract
    signal input fee;              // fee F of each answer (the version's price), < 2^AB
    signal input pool;             // contributors' pool P <= F of each answer
    signal input first;            // receipt number of the batch's first answer, < 2^NB
    signal input active[M];        // 1 for the batch's answers, 0 for padding (a prefix of ones)
    signal input t[M][K];          // test features per answer (signed, quantized)
    signal input inputHash[M];     // hash of each answer's model input
    signal input outputHash[M];    // hash of each answer's model output
    signal input fresh;            // 1 for a version's first batch (the old ledger is empty)
    signal input oldCumulative[C]; // ledger amounts before the batch

    // ---- public outputs -------------------------------------------------
    signal output binding;
    signal output header;
    signal output paid;
    signal output receiptsRoot;
    signal output oldRoot;
    signal output newRoot;

    // ---- the index, hashed once for the batch ---------------------------
    component index = IndexRoot(C, K, FB, PACK);
    index.g <== g;
    index.payee <== payee;
    component bind = PoseidonHash(4);
    bind.inputs[0] <== index.root;
    bind.inputs[1] <== adapterId;
    bind.inputs[2] <== chainId;
    bind.inputs[3] <== settlement;
    binding <== bind.out;

    // ---- header: fee, pool, first, count --------------------------------
    component feeBits = Num2Bits(AB);
    feeBits.in <== fee;
    component poolBits = Num2Bits(AB);
    poolBits.in <== pool;
    component poolLeFee = LessEqThan(AB); // pool <= fee
    poolLeFee.in[0] <== pool;
    poolLeFee.in[1] <== fee;
    poolLeFee.out === 1;
    component firstBits = Num2Bits(NB);
    firstBits.in <== first;
    var count = 0;
    for (var i = 0; i < M; i++) {
        active[i] * (active[i] - 1) === 0;           // boolean
        if (i > 0) { active[i] * (1 - active[i - 1]) === 0; } // answers first, padding after
        count += active[i];
    }
    header <== fee + pool * (1 << AB) + first * (1 << (2 * AB)) + count * (1 << (2 * AB + NB));

    // ---- per answer: receipt, scores, rate ------------------------------
    component tPack[M];            // range-checks t_i, packs it for the receipt
    component receiptHash[M];
    signal receiptLeaf[M];         // receipt commitment, or 0 for padding
    signal prod[M][C][K];          // t_ik * G_ck
    signal raw[M][C];              // <t_i, G_c>
    component sign[M][C];          // bits of raw + 2^SB; bit SB set iff raw >= 0
    signal score[M][C];            // s_ic
    component sumIsZero[M];        // S_i = 0
    signal answerPool[M];          // P_i = active_i * P
    signal scaledPool[M];          // P_i * 2^Q
    component rate[M];             // r_i = floor(P_i * 2^Q / D_i), D_i = S_i or 1 when S_i = 0
    signal share[M][C];            // s_ic * r_i
    component receipts = MerkleRoot(MDEPTH);
    for (var i = 0; i < M; i++) {
        tPack[i] = PackSigned(K, FB, PACK);
        tPack[i].in <== t[i];
        receiptHash[i] = PoseidonHash(6 + NCH);
        receiptHash[i].inputs[0] <== binding;
        receiptHash[i].inputs[1] <== first + i;
        receiptHash[i].inputs[2] <== fee;
        receiptHash[i].inputs[3] <== pool;
        receiptHash[i].inputs[4] <== inputHash[i];
        receiptHash[i].inputs[5] <== outputHash[i];
        for (var j = 0; j < NCH; j++) {
            receiptHash[i].inputs[6 + j] <== tPack[i].chunk[j];
        }
        receiptLeaf[i] <== active[i] * receiptHash[i].out;
        receipts.leaves[i] <== receiptLeaf[i];

        var total = 0;
        for (var c = 0; c < C; c++) {
            var acc = 0;
            for (var k = 0; k < K; k++) {
                prod[i][c][k] <== t[i][k] * g[c][k];
                acc += prod[i][c][k];
            }
            raw[i][c] <== acc;
            sign[i][c] = Num2Bits(SB + 1);
            sign[i][c].in <== raw[i][c] + (1 << SB);
            score[i][c] <== sign[i][c].out[SB] * raw[i][c];
            total += score[i][c];
        }
        sumIsZero[i] = IsZero();
        sumIsZero[i].in <== total;
        answerPool[i] <== active[i] * pool;
        scaledPool[i] <== answerPool[i] * (1 << Q);
        rate[i] = DivRem(RB, SUMB + 1);
        rate[i].n <== scaledPool[i];
        rate[i].d <== total + sumIsZero[i].out;
        for (var c = 0; c < C; c++) {
            share[i][c] <== score[i][c] * rate[i].q;
        }
    }
    receiptsRoot <== receipts.root;

    // ---- per contributor: payout over the batch, the ledger -------------
    component payout[C];           // payout_c = floor(sum_i share_ic / 2^Q)
    signal newCumulative[C];
    component newBits[C];          // new cumulative < 2^LB (by induction, so is every old one)
    component oldLeaf[C];
    component newLeaf[C];
    component oldTree = MerkleRoot(DEPTH);
    component newTree = MerkleRoot(DEPTH);
    fresh * (fresh - 1) === 0;
    var paidAcc = 0;
    for (var c = 0; c < C; c++) {
        var acc = 0;
        for (var i = 0; i < M; i++) { acc += share[i][c]; }
        payout[c] = ShiftRight(SB + AB + MDEPTH + 1, Q);
        payout[c].n <== acc;
        paidAcc += payout[c].q;
        fresh * oldCumulative[c] === 0;            // a fresh ledger starts at zero
        newCumulative[c] <== oldCumulative[c] + payout[c].q;
        newBits[c] = Num2Bits(LB);
        newBits[c].in <== newCumulative[c];
        oldLeaf[c] = PoseidonHash(2);
        oldLeaf[c].inputs[0] <== payee[c];
        oldLeaf[c].inputs[1] <== oldCumulative[c];
        oldTree.leaves[c] <== oldLeaf[c].out;
        newLeaf[c] = PoseidonHash(2);
        newLeaf[c].inputs[0] <== payee[c];
        newLeaf[c].inputs[1] <== newCumulative[c];
        newTree.leaves[c] <== newLeaf[c].out;
    }
    paid <== paidAcc;
    oldRoot <== (1 - fresh) * oldTree.root;
    newRoot <== newTree.root;
}
