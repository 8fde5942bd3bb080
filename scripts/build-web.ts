/** npm run build:web: the dashboard's static assets into build/web/<hash> (the server also builds them at start, when missing). */
import { buildDashboard } from '../api/web/build.js';

const t0 = performance.now();
const dir = await buildDashboard();
console.log(`dashboard built into ${dir} in ${Math.round(performance.now() - t0)} ms`);
