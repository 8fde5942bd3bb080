/**
 * One registry of zkpoa error codes (fastify-style): a stable code, an HTTP status
 * for the API, and a message. Tests assert codes, never prose.
 */
export const ERROR_CODES = {
  ZKPOA_ERR_INVALID_ARGUMENT: 400,
  ZKPOA_ERR_FEATURE_RANGE: 400,
  ZKPOA_ERR_AMOUNT_RANGE: 400,
  ZKPOA_ERR_SHAPE: 400,
  ZKPOA_ERR_CAPACITY: 400,
  ZKPOA_ERR_UNKNOWN_VARIANT: 404,
  ZKPOA_ERR_ARTIFACTS_MISSING: 500,
  ZKPOA_ERR_PTAU: 500,
  ZKPOA_ERR_PROVE: 500,
  ZKPOA_ERR_CLOSED: 503,
  ZKPOA_ERR_UNKNOWN_ADAPTER: 404,
  ZKPOA_ERR_ADAPTER_CORRUPT: 422,
  ZKPOA_ERR_ADAPTER_MISMATCH: 422,
  ZKPOA_ERR_INPUT: 400,
  ZKPOA_ERR_BATCH_TOO_LARGE: 413,
  ZKPOA_ERR_MODEL: 500,
  ZKPOA_ERR_TRAINING: 422,
  ZKPOA_ERR_OVERLOADED: 503,
  ZKPOA_ERR_VALIDATION: 400,
  ZKPOA_ERR_UNAUTHORIZED: 401,
  ZKPOA_ERR_FORBIDDEN: 403,
  ZKPOA_ERR_NOT_FOUND: 404,
  ZKPOA_ERR_DUPLICATE: 409,
  ZKPOA_ERR_LIMIT: 413,
  ZKPOA_ERR_CONFLICT: 409,
  ZKPOA_ERR_RATE_LIMITED: 429,
  ZKPOA_ERR_INTERNAL: 500,
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
