export * from './batch-witness.js';
export * from './calldata.js';
export * from './prover.js';
export * from './setup.js';
export { DEV_SETUP_METHOD, devPowersOfTau, devSetup, keyPower, type DevSetupOptions, type DevSetupResult } from './dev-setup.js';
export * from './witness.js';
export * from './progress.js';
export { releaseSnarkjsThreads } from './snarkjs-threads.js';
