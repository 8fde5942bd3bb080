pragma circom 2.1.6;

// circomlib's Poseidon (the same permutation, constants and output, so circomlibjs and
// poseidon-solidity agree with it), written so that only the S-boxes are signals: the
// round constants and the MDS and sparse mixing layers stay linear expressions in
// variables instead of one signal and one linear constraint per state element and round.
// The R1CS is the one circom's --O2 makes of circomlib's template, but the compiler never
// holds the linear constraints it would then eliminate: at a million Poseidon rounds
// those, not the hashes, exhausted circom2's 4 GiB WebAssembly memory.

include "circomlib/circuits/poseidon_constants.circom";

template PoseidonHash(nInputs) {
    signal input inputs[nInputs];
    signal output out;

    var N_ROUNDS_P[16] = [56, 57, 56, 60, 60, 63, 64, 63, 60, 66, 60, 65, 70, 60, 64, 68];
    var t = nInputs + 1;
    var nRoundsF = 8;
    var nRoundsP = N_ROUNDS_P[t - 2];
    var C[t * nRoundsF + nRoundsP] = POSEIDON_C(t);
    var S[N_ROUNDS_P[t - 2] * (t * 2 - 1)] = POSEIDON_S(t);
    var M[t][t] = POSEIDON_M(t);
    var P[t][t] = POSEIDON_P(t);

    var nSbox = nRoundsF * t + nRoundsP;
    signal x2[nSbox];
    signal x4[nSbox];
    signal x5[nSbox];
    var k = 0;

    var state[t];
    var mixed[t];
    state[0] = C[0];
    for (var j = 1; j < t; j++) { state[j] = inputs[j - 1] + C[j]; }

    // first half of the full rounds; the last of them mixes with P (the sparse form's start)
    for (var r = 0; r < nRoundsF \ 2; r++) {
        for (var j = 0; j < t; j++) {
            x2[k] <== state[j] * state[j];
            x4[k] <== x2[k] * x2[k];
            x5[k] <== x4[k] * state[j];
            state[j] = x5[k] + C[(r + 1) * t + j];
            k++;
        }
        for (var i = 0; i < t; i++) {
            mixed[i] = 0;
            for (var j = 0; j < t; j++) { mixed[i] += (r < nRoundsF \ 2 - 1 ? M[j][i] : P[j][i]) * state[j]; }
        }
        for (var i = 0; i < t; i++) { state[i] = mixed[i]; }
    }

    // partial rounds: one S-box, then the sparse matrix S
    for (var r = 0; r < nRoundsP; r++) {
        x2[k] <== state[0] * state[0];
        x4[k] <== x2[k] * x2[k];
        x5[k] <== x4[k] * state[0];
        var s0 = x5[k] + C[(nRoundsF \ 2 + 1) * t + r];
        k++;
        var first = S[(t * 2 - 1) * r] * s0;
        for (var i = 1; i < t; i++) { first += S[(t * 2 - 1) * r + i] * state[i]; }
        for (var i = 1; i < t; i++) { state[i] = state[i] + s0 * S[(t * 2 - 1) * r + t + i - 1]; }
        state[0] = first;
    }

    // second half of the full rounds
    for (var r = 0; r < nRoundsF \ 2 - 1; r++) {
        for (var j = 0; j < t; j++) {
            x2[k] <== state[j] * state[j];
            x4[k] <== x2[k] * x2[k];
            x5[k] <== x4[k] * state[j];
            state[j] = x5[k] + C[(nRoundsF \ 2 + 1) * t + nRoundsP + r * t + j];
            k++;
        }
        for (var i = 0; i < t; i++) {
            mixed[i] = 0;
            for (var j = 0; j < t; j++) { mixed[i] += M[j][i] * state[j]; }
        }
        for (var i = 0; i < t; i++) { state[i] = mixed[i]; }
    }

    // the last full round's S-boxes, and the first element of the final mix
    var acc = 0;
    for (var j = 0; j < t; j++) {
        x2[k] <== state[j] * state[j];
        x4[k] <== x2[k] * x2[k];
        x5[k] <== x4[k] * state[j];
        acc += M[j][0] * x5[k];
        k++;
    }
    out <== acc;
}
