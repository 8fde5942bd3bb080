export * from './constants.js';
export * from './errors.js';
export * from './field.js';
export * from './fixed-point.js';
export * from './split.js';
export * from './poseidon.js';
export * from './commitments.js';
export * from './batch.js';
