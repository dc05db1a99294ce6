import type { HandleRow, HandleRules } from '@freehold/core';

/** Whether a held name counts towards its account's cap: it does until it is dropped and released. */
export const handleCounts = (h: HandleRow, rules: HandleRules): boolean => h.dropped === undefined || h.dropped > rules.releasedBefore;
