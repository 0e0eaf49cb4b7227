import { defineConfig } from 'vite';
import { webConfig } from './build.js';

// `npm run build:web` (static site in web/dist) and `npm run dev:web` (a dev server).
export default defineConfig(webConfig());
