export * from './anvil.js';
export * from './artifacts.js';
export * from './deploy.js';
export * from './published-leaves.js';
export * from './settlement.js';
export * from './provider.js';
