/**
 * The recipe app, the reference server of activity-log: `npm start` in a clone.
 *
 * Environment: PORT (3000; 0 picks a free port), HOST (127.0.0.1), DATABASE_FILE
 * (recipe-app.db in the working directory), DATABASE_URL (postgres://... to use PostgreSQL
 * for the app and its activity log), ADMIN_EMAIL and ADMIN_PASSWORD (the admin seeded on
 * first start).
 */
import { readConfig } from './config.js';
import { startRecipeApp } from './app.js';

const config = readConfig();
const app = await startRecipeApp(config);

console.log(`Recipe app listening on ${app.url}`);
console.log(`Database: ${app.dialect === 'sqlite' ? `SQLite file ${config.databaseFile}` : 'PostgreSQL (DATABASE_URL)'}`);
console.log(`Admin: ${config.admin.email} / ${config.admin.password}${app.seeded.adminCreated ? ' (just created)' : ''}`);
console.log(`Activity log: ${app.url}/admin/logs (as the admin)`);

// Graceful shutdown: stop taking requests, let running ones finish and log, then write every
// pending event (activity.close() inside app.close()) before exiting.
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: shutting down`);
    const force = setTimeout(() => {
      console.error('shutdown took longer than 15 s; exiting');
      process.exit(1);
    }, 15_000);
    force.unref();
    app.close().then(
      () => {
        console.log('stopped; every activity event is written');
        process.exitCode = 0;
      },
      (error: unknown) => {
        console.error('shutdown failed:', error);
        process.exitCode = 1;
      },
    );
  });
}
