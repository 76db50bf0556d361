export const SENSITIVE_ACTIONS = ['password-change', 'anonymize', 'export', 'import', 'bulk-delete'] as const;
export type SensitiveAction = (typeof SENSITIVE_ACTIONS)[number];

// What the throttling module counts, and where: limits per window, and the Redis that shares the
// counters between instances (in this process when absent).
export class ThrottleSettings {
  windowMs!: number;
  loginAccountFailures!: number;
  loginAddress!: number;
  sensitive!: Record<SensitiveAction, number>;
  redis?: { url: string; keyPrefix: string };
}
