// graphile.mjs - the reference measurements for make bench-queue: the same
// phases as bench_queue.c, with graphile-worker (pinned in package-lock.json),
// on the same PostgreSQL.  Prints numbers; never a pass/fail.
//
// usage: node graphile.mjs CONNECTION_STRING [JOBS]
//        (internally: node graphile.mjs --worker CONNECTION_STRING MODE)
import { fork } from "node:child_process";
import { performance } from "node:perf_hooks";
import { Logger, makeWorkerUtils, run } from "graphile-worker";

const quiet = new Logger(() => () => {});
const now = () => performance.timeOrigin + performance.now(); // ms, wall clock

// Runner options per mode.  "default": graphile-worker's defaults with
// concurrency 4 (as our 4 slots).  "batched": its documented batching
// (local queue, batched completion).
function runnerOptions(conn, mode) {
  const base = { connectionString: conn, concurrency: 4, noHandleSignals: true, logger: quiet,
                 pollInterval: 2000 };
  if (mode === "batched") {
    base.preset = { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0,
                              failJobBatchDelay: 0 } };
  }
  return base;
}

async function workerMain(conn, mode) {
  const runner = await run({
    ...runnerOptions(conn, mode),
    taskList: {
      noop: async () => {},
      lat: async (payload) => { process.send({ i: payload.i, t: now() }); },
    },
  });
  process.send({ ready: true });
  process.on("message", async (m) => { if (m === "stop") { await runner.stop(); process.exit(0); } });
}

function spawnWorker(conn, mode) {
  const child = fork(new URL(import.meta.url).pathname, ["--worker", conn, mode]);
  const ready = new Promise((resolve) => child.on("message", (m) => { if (m.ready) resolve(); }));
  return { child, ready };
}

async function stopWorkers(ws) {
  await Promise.all(ws.map((w) => new Promise((resolve) => { w.child.on("exit", resolve); w.child.send("stop"); })));
}

async function pending(utils) {
  return utils.withPgClient(async (c) => Number((await c.query(
    "select count(*) from graphile_worker._private_jobs")).rows[0].count));
}

async function reset(utils) {
  await utils.withPgClient((c) => c.query("truncate graphile_worker._private_jobs cascade"));
}

async function enqueueBatches(utils, n) {
  for (let done = 0; done < n; done += 100) {
    const k = Math.min(100, n - done);
    await utils.addJobs(Array.from({ length: k }, () => ({ identifier: "noop", payload: {} })));
  }
}

async function main(conn, jobs) {
  const utils = await makeWorkerUtils({ connectionString: conn, logger: quiet });
  await utils.migrate();
  await reset(utils);

  let t0 = now();
  const single = 5000;
  for (let i = 0; i < single; i++) await utils.addJob("noop", {});
  console.log(`graphile enqueue single      : ${(single / ((now() - t0) / 1000)).toFixed(0).padStart(8)} jobs/s (${single} jobs, addJob)`);
  await reset(utils);
  t0 = now();
  await enqueueBatches(utils, jobs);
  console.log(`graphile enqueue batch of 100: ${(jobs / ((now() - t0) / 1000)).toFixed(0).padStart(8)} jobs/s (${jobs} jobs, addJobs)`);

  for (const mode of ["default", "batched"]) {
    for (const w of [1, 2, 4]) {
      await reset(utils);
      await enqueueBatches(utils, jobs);
      t0 = now();
      const ws = Array.from({ length: w }, () => spawnWorker(conn, mode));
      while ((await pending(utils)) > 0) await new Promise((r) => setTimeout(r, 5));
      const secs = (now() - t0) / 1000;
      await stopWorkers(ws);
      console.log(`graphile drain ${jobs} no-op jobs, ${w} worker${w > 1 ? "s" : " "} x concurrency 4, ${mode.padEnd(7)}: ${secs.toFixed(2).padStart(6)} s = ${(jobs / secs).toFixed(0).padStart(8)} jobs/s`);
    }
  }

  for (const mode of ["default", "batched"]) {
    await reset(utils);
    const w = spawnWorker(conn, mode);
    await w.ready;
    await new Promise((r) => setTimeout(r, 500));
    const lat = [];
    for (let i = 0; i < 200; i++) {
      const got = new Promise((resolve) => {
        const h = (m) => { if (m.i === i) { w.child.off("message", h); resolve(m.t); } };
        w.child.on("message", h);
      });
      const s = now();
      await utils.addJob("lat", { i });
      lat.push((await got) - s);
      await new Promise((r) => setTimeout(r, 2));
    }
    await stopWorkers([w]);
    lat.sort((a, b) => a - b);
    console.log(`graphile wake-up latency (${mode}, addJob commit included), 200 sequential jobs: p50 ${lat[100].toFixed(2)} ms, p99 ${lat[198].toFixed(2)} ms`);
  }
  await utils.release();
}

const args = process.argv.slice(2);
if (args[0] === "--worker") {
  await workerMain(args[1], args[2]);
} else {
  if (!args[0]) { console.error("usage: node graphile.mjs CONNECTION_STRING [JOBS]"); process.exit(2); }
  await main(args[0], Number(args[1] || 100000));
}
