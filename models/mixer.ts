import type { ModelSpec } from './spec.js';

export const mixerSpecs: ModelSpec[] = [];
