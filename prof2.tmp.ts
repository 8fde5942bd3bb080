import * as snarkjs from 'snarkjs';
import { readFileSync } from 'node:fs';
import { Commitments } from './attribution/commitments.js';
import { variantFor } from './circuits/variants.js';
import { buildWitness } from './prover/witness.js';
import { exampleClaim } from './scripts/example-claim.js';
import { useSingleThreadedCurve } from './prover/snarkjs-threads.js';
// @ts-ignore
import { WitnessCalculatorBuilder } from 'circom_runtime';
const v = variantFor('default');
const dir = './build/circuits/Attribution_16x32/';
const wasm = readFileSync(dir + 'circuit.wasm'); const zkey = readFileSync(dir + 'circuit.zkey');
const c = await Commitments.create();
const input = buildWitness(c, v, exampleClaim(v, 3, 16).claim).input;
if (process.argv[2] === 'single') await useSingleThreadedCurve();
const wc = await WitnessCalculatorBuilder(wasm);
const wtns = await wc.calculateWTNSBin(input, 0);
let last = performance.now();
const log = (m: string) => { const n = performance.now(); if (n - last > 30) console.log((n - last).toFixed(0).padStart(6), 'before:', m); last = n; };
const logger = { debug: log, info: log, warn: log, error: log };
for (let i = 0; i < 2; i++) { last = performance.now(); const t = performance.now(); await (snarkjs as any).groth16.prove({ type: 'mem', data: zkey }, { type: 'mem', data: wtns }, logger); console.log('total', performance.now() - t); }
process.exit(0);
