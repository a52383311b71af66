// Starts the built worker in workerd (tests/e2e/harness.mjs: fresh local
// D1, KV and Queue, a bootstrap admin key) for the Python tests, prints one
// JSON line {"url", "adminKey"} on stdout, and stops it (state removed) on
// SIGTERM, SIGINT or when stdin closes, so a crashed pytest leaves nothing.
import { startWorker } from "../e2e/harness.mjs";

const w = await startWorker();
let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  try {
    await w.stop();
  } finally {
    process.exit(0);
  }
}
// SIGUSR1 restarts the worker on the same port and state (live subscribers
// drop and must reconnect); "restarted" is printed once it serves again.
process.on("SIGUSR1", async () => {
  await w.restart();
  process.stdout.write(JSON.stringify({ restarted: true }) + "\n");
});
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
process.stdout.write(JSON.stringify({ url: w.url, adminKey: w.adminKey }) + "\n");
