import type { ModelSpec } from './spec.js';

export const convnextSpecs: ModelSpec[] = [];
