import { SetMetadata } from '@nestjs/common';
import type { SensitiveAction } from './throttle.settings';

export const THROTTLE_ACTION = 'throttling:action';
export const THROTTLE_NONE = 'throttling:none';

// Every route states its throttling decision explicitly (a meta-test checks it): either it is a
// sensitive action, counted per action and per target account (password change, anonymize) or
// per caller (export, import, bulk delete), or it is deliberately not throttled.
export const SensitiveRoute = (action: SensitiveAction) => SetMetadata(THROTTLE_ACTION, action);
export const NoThrottle = () => SetMetadata(THROTTLE_NONE, true);
