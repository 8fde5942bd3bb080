pragma circom 2.1.6;

// Proof of Attribution: the fee split of one answer among an adapter's contributors.
//
// Mirrors attribution/ (TypeScript) bit for bit; the numbers below are the same
// constants as attribution/constants.ts and a test checks the two agree.
//
// Public signals (all outputs, so each one is constrained by construction):
//   receipt     Poseidon(binding, nonce, inputHash, outputHash, fee, pool, tChunk[..])
//               - the receipt commitment, used on-chain as the nullifier.
//   binding     Poseidon(indexRoot, adapterId, chainId, settlement)
//               - ties the proof to one registered index root of one adapter on one
//                 settlement contract of one chain; the registry stores this value.
//   amounts[W]  pool and the C payouts, 80 bits each, 3 per field element,
//               value i of the list [pool, payout_0, ..., payout_{C-1}] sits in
//               amounts[i \ 3] at bit offset 80 * (i % 3).
// One public signal costs ~6k gas in the verifier: C=16 gives 2 + 6 = 8 signals.

include "common.circom";

// C contributors (a power of two: the padded index), K feature dimensions.
template Attribution(C, K) {
    var FB = 16;                           // feature bits (signed)
    var PACK = 15;                         // features per packed field element
    var AB = 80;                           // amount bits (pool, fee, payouts)
    var APW = 3;                           // amounts per public word
    var DEPTH = ceilLog2(C);
    assert(C == (1 << DEPTH));
    var NCH = (K + PACK - 1) \ PACK;       // packed chunks per feature vector
    var SB = 2 * (FB - 1) + ceilLog2(K) + 1; // |<t, g_c>| < 2^SB
    var SUMB = SB + DEPTH;                 // S = sum of positive scores < 2^SUMB
    var NW = (C + 1 + APW - 1) \ APW;      // public amount words

    // ---- private inputs -------------------------------------------------
    signal input t[K];          // test features of the answer (signed, quantized)
    signal input g[C][K];       // index features G_c per leaf (signed, quantized; 0 for padding)
    signal input payee[C];      // payout address of each leaf (0 for padding)
    signal input adapterId;     // registry id of the adapter
    signal input chainId;       // chain id of the settlement contract
    signal input settlement;    // address of the settlement contract
    signal input fee;           // fee F charged for the answer, < 2^AB
    signal input pool;          // contributors' pool P <= F, < 2^AB
    signal input nonce;         // receipt id: makes equal answers distinct receipts
    signal input inputHash;     // hash of the model input (field element)
    signal input outputHash;    // hash of the model output (field element)

    // ---- public outputs -------------------------------------------------
    signal output receipt;      // receipt commitment (nullifier on-chain)
    signal output binding;      // Poseidon(indexRoot, adapterId, chainId, settlement)
    signal output amounts[NW];  // [pool, payouts...] packed 3 x 80 bits per word

    // ---- index root from the leaves used --------------------------------
    component tPack = PackSigned(K, FB, PACK); // range-checks t, packs it for the receipt
    tPack.in <== t;
    component gPack[C];         // range-checks each G_c, packs it for its leaf
    component leafHash[C];      // leaf_c = Poseidon(payee_c, gChunk_c[0..NCH))
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
    component bind = PoseidonHash(4);
    bind.inputs[0] <== tree.root;
    bind.inputs[1] <== adapterId;
    bind.inputs[2] <== chainId;
    bind.inputs[3] <== settlement;
    binding <== bind.out;

    // ---- scores s_c = max(0, <t, G_c>) ----------------------------------
    signal prod[C][K];          // t_k * G_c,k
    signal raw[C];              // <t, G_c>, |raw| < 2^(SB-1)
    component sign[C];          // bits of raw + 2^SB; bit SB set iff raw >= 0
    signal score[C];            // s_c = raw if raw >= 0 else 0
    for (var c = 0; c < C; c++) {
        var acc = 0;
        for (var k = 0; k < K; k++) {
            prod[c][k] <== t[k] * g[c][k];
            acc += prod[c][k];
        }
        raw[c] <== acc;
        sign[c] = Num2Bits(SB + 1);
        sign[c].in <== raw[c] + (1 << SB);
        score[c] <== sign[c].out[SB] * raw[c];
    }

    // ---- pool and fee bounds --------------------------------------------
    component poolBits = Num2Bits(AB); // pool < 2^AB
    poolBits.in <== pool;
    component feeBits = Num2Bits(AB);  // fee < 2^AB
    feeBits.in <== fee;
    component poolLeFee = LessEqThan(AB); // pool <= fee
    poolLeFee.in[0] <== pool;
    poolLeFee.in[1] <== fee;
    poolLeFee.out === 1;

    // ---- split p_c = floor(P * s_c / S); S = 0 pays nobody --------------
    var sumAcc = 0;
    for (var c = 0; c < C; c++) { sumAcc += score[c]; }
    signal total;               // S = sum of scores, < 2^SUMB
    total <== sumAcc;
    component totalIsZero = IsZero(); // 1 iff S = 0
    totalIsZero.in <== total;
    signal divisor;             // D = S, or 1 when S = 0 (then every s_c = 0, so every p_c = 0)
    divisor <== total + totalIsZero.out;

    signal numerator[C];        // P * s_c, < 2^(AB + SB)
    signal payout[C];           // quotient hint p_c, constrained below
    signal rem[C];              // remainder hint r_c, constrained below
    component payoutBits[C];    // p_c < 2^AB
    component remBits[C];       // r_c < 2^SUMB
    component remLtDivisor[C];  // r_c < D
    for (var c = 0; c < C; c++) {
        numerator[c] <== pool * score[c];
        payout[c] <-- numerator[c] \ divisor;
        rem[c] <-- numerator[c] % divisor;
        // P*s_c = p_c*D + r_c with p_c, r_c bounded: no wrap below p (AB + SUMB + 1 < 253).
        numerator[c] === payout[c] * divisor + rem[c];
        payoutBits[c] = Num2Bits(AB);
        payoutBits[c].in <== payout[c];
        remBits[c] = Num2Bits(SUMB);
        remBits[c].in <== rem[c];
        remLtDivisor[c] = LessThan(SUMB + 1);
        remLtDivisor[c].in[0] <== rem[c];
        remLtDivisor[c].in[1] <== divisor;
        remLtDivisor[c].out === 1;
    }

    // ---- public amounts: [pool, payouts...] packed ----------------------
    for (var w = 0; w < NW; w++) {
        var acc = 0;
        for (var i = 0; i < APW; i++) {
            var idx = APW * w + i;
            if (idx == 0) {
                acc += pool;
            } else if (idx <= C) {
                acc += payout[idx - 1] * (1 << (AB * i));
            }
        }
        amounts[w] <== acc;
    }

    // ---- receipt commitment ---------------------------------------------
    component receiptHash = PoseidonHash(6 + NCH);
    receiptHash.inputs[0] <== binding;
    receiptHash.inputs[1] <== nonce;
    receiptHash.inputs[2] <== inputHash;
    receiptHash.inputs[3] <== outputHash;
    receiptHash.inputs[4] <== fee;
    receiptHash.inputs[5] <== pool;
    for (var j = 0; j < NCH; j++) {
        receiptHash.inputs[6 + j] <== tPack.chunk[j];
    }
    receipt <== receiptHash.out;
}
