/**
 * One registry of zkpoa error codes (fastify-style): one code per condition, an HTTP
 * status for the API, and a message. Tests assert codes, never prose.
 */
export const ERROR_CODES = {
  // --- arguments and shapes (library and API) ---
  /** an argument out of its documented domain */
  ZKPOA_ERR_INVALID_ARGUMENT: 400,
  /** a feature outside the signed 16-bit range */
  ZKPOA_ERR_FEATURE_RANGE: 400,
  /** an amount outside [0, 2^80) */
  ZKPOA_ERR_AMOUNT_RANGE: 400,
  /** vectors or leaves of the wrong length */
  ZKPOA_ERR_SHAPE: 400,
  /** more contributors than the circuit variant holds */
  ZKPOA_ERR_CAPACITY: 400,
  ZKPOA_ERR_UNKNOWN_VARIANT: 404,
  /** an input text the model cannot take */
  ZKPOA_ERR_INPUT: 400,

  // --- keys, proving ---
  ZKPOA_ERR_ARTIFACTS_MISSING: 500,
  /** an artifact that is there but cut short or not what its format says (rebuild it) */
  ZKPOA_ERR_ARTIFACTS_CORRUPT: 500,
  ZKPOA_ERR_PTAU: 500,
  ZKPOA_ERR_PROVE: 500,
  /** the service's circuit keys are still being built (or failed to build) */
  ZKPOA_ERR_KEYS_NOT_READY: 503,
  /** a datanet version's span index is still being built */
  ZKPOA_ERR_SPANS_NOT_READY: 503,
  /** development-ceremony keys refused on a chain that is not a local one */
  ZKPOA_ERR_DEV_KEYS: 409,

  // --- serving and adapters ---
  ZKPOA_ERR_CLOSED: 503,
  ZKPOA_ERR_OVERLOADED: 503,
  ZKPOA_ERR_BATCH_TOO_LARGE: 413,
  ZKPOA_ERR_UNKNOWN_ADAPTER: 404,
  ZKPOA_ERR_ADAPTER_CORRUPT: 422,
  ZKPOA_ERR_ADAPTER_MISMATCH: 422,
  ZKPOA_ERR_MODEL: 500,
  ZKPOA_ERR_TRAINING: 422,
  /** the caller already has an adapter with this id */
  ZKPOA_ERR_ADAPTER_EXISTS: 409,
  /** the adapter is still training, or its training failed */
  ZKPOA_ERR_ADAPTER_NOT_READY: 409,
  /** the adapter has no attribution index */
  ZKPOA_ERR_NO_INDEX: 409,
  /** the adapter's index is not the one its on-chain version was registered with */
  ZKPOA_ERR_INDEX_MISMATCH: 409,
  /** a fine-tuning job ran past its deadline */
  ZKPOA_ERR_FINETUNE_DEADLINE: 422,

  // --- HTTP ---
  /** a request that does not match its schema */
  ZKPOA_ERR_VALIDATION: 400,
  /** a request the server cannot parse (bad JSON, wrong content type, …) */
  ZKPOA_ERR_MALFORMED_REQUEST: 400,
  ZKPOA_ERR_BODY_TOO_LARGE: 413,
  ZKPOA_ERR_UNAUTHORIZED: 401,
  ZKPOA_ERR_FORBIDDEN: 403,
  ZKPOA_ERR_NOT_FOUND: 404,
  ZKPOA_ERR_RATE_LIMITED: 429,
  /** too many failed authentications from one address */
  ZKPOA_ERR_AUTH_THROTTLED: 429,
  ZKPOA_ERR_INTERNAL: 500,

  // --- datanets ---
  /** a record whose content is already in the datanet */
  ZKPOA_ERR_DUPLICATE: 409,
  /** the datanet holds as many records as it may */
  ZKPOA_ERR_DATANET_FULL: 409,
  /** a record larger than the datanet allows */
  ZKPOA_ERR_RECORD_TOO_LARGE: 413,
  /** limits asked above what a datanet may have */
  ZKPOA_ERR_DATANET_LIMITS: 400,
  /** a contributor has as many records awaiting review as it may */
  ZKPOA_ERR_PENDING_QUOTA: 429,
  /** nothing accepted to publish */
  ZKPOA_ERR_NOTHING_TO_PUBLISH: 409,

  // --- per-tenant quotas ---
  /** the host stores as many answers (inputs kept for audit) as it may */
  ZKPOA_ERR_INPUT_QUOTA: 429,
  /** the host has as many fine-tuning jobs queued or running as it may */
  ZKPOA_ERR_FINETUNE_QUOTA: 429,
  /** every attribution worker pool is busy with other adapters */
  ZKPOA_ERR_ATTRIBUTION_BUSY: 503,

  // --- chain, money ---
  /** this server has no chain configured */
  ZKPOA_ERR_NO_CHAIN: 501,
  /** the host has not linked a wallet (its escrow pays its fees) */
  ZKPOA_ERR_NO_WALLET: 409,
  /** a wallet-link signature that is not the address's */
  ZKPOA_ERR_BAD_SIGNATURE: 400,
  /** the host's wallet has not approved this server's operator on-chain */
  ZKPOA_ERR_OPERATOR_NOT_APPROVED: 403,
  /** the host's escrow cannot pay the fee */
  ZKPOA_ERR_INSUFFICIENT_ESCROW: 402,
  ZKPOA_ERR_ALREADY_REGISTERED: 409,
  ZKPOA_ERR_NOT_REGISTERED: 409,
  ZKPOA_ERR_NOT_PROVEN: 409,
  ZKPOA_ERR_ALREADY_SETTLED: 409,
  /** a stored proof whose public signals are not its receipt's own claim */
  ZKPOA_ERR_PROOF_MISMATCH: 409,
  /** a stored proof that does not verify with this server's verification key */
  ZKPOA_ERR_PROOF_INVALID: 409,
  /** the same registration or settlement is already in flight */
  ZKPOA_ERR_IN_PROGRESS: 409,
  /** the contract reverted; the message names its custom error */
  ZKPOA_ERR_CHAIN_REFUSED: 409,

  // --- job queues ---
  /** the worker no longer holds the job (its lease lapsed, or the job is finished) */
  ZKPOA_ERR_LEASE_LOST: 409,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class ZkpoaError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ZkpoaError';
    this.code = code;
    this.statusCode = ERROR_CODES[code];
  }
}
