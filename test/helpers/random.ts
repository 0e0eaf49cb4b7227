export { Rng } from '../../engine/random.js';
