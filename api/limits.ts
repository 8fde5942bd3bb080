/**
 * What one tenant may take of a shared server, so that no host starves the others or
 * fills the disk. Each limit is refused with its own error code (attribution/errors.ts).
 */
export interface TenantLimits {
  /** answers a host may have stored (each keeps its input for audit): ZKPOA_ERR_INPUT_QUOTA */
  maxStoredAnswers: number;
  /** fine-tuning jobs a host may have queued or running at once: ZKPOA_ERR_FINETUNE_QUOTA */
  maxFineTuneJobs: number;
  /** a fine-tuning job (training and index) is stopped after this long: ZKPOA_ERR_FINETUNE_DEADLINE */
  fineTuneDeadlineMs: number;
  /** attribution worker pools alive at once, across all hosts: ZKPOA_ERR_ATTRIBUTION_BUSY */
  maxAttributionPools: number;
  /** records one contributor may have awaiting review in one datanet: ZKPOA_ERR_PENDING_QUOTA */
  maxPendingPerContributor: number;
  /** requests per minute per authenticated host, or per address without a key */
  requestsPerMinute: number;
  /** failed authentications per minute per address before it is throttled: ZKPOA_ERR_AUTH_THROTTLED */
  failedAuthPerMinute: number;
}

export const DEFAULT_LIMITS: TenantLimits = {
  maxStoredAnswers: 1_000_000,
  maxFineTuneJobs: 2,
  fineTuneDeadlineMs: 30 * 60_000,
  maxAttributionPools: 6,
  maxPendingPerContributor: 1_000,
  requestsPerMinute: 6_000,
  failedAuthPerMinute: 20,
};

export function tenantLimits(overrides: Partial<TenantLimits> = {}): TenantLimits {
  const limits = { ...DEFAULT_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isInteger(value) || value < 1) throw new TypeError(`limits.${name} must be a positive integer`);
  }
  return limits;
}
