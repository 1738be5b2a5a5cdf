/** attestation: the record. Statements, sums files, leaves, OpenPGP verification. Node only. */
export * from './statement.js';
export * from './sums.js';
export * from './leaf.js';
export * from './openpgp.js';
export * from './record.js';
export * from './verify-pool.js';
export * from './node-crypto.js';
