'use strict';
/*
 * load.js - server children and the autocannon load, shared by the HTTP
 * benchmark and the session-store benchmark.
 *
 * A server is a child process (fork) that binds 127.0.0.1 on a free port and
 * sends { ready: true, port, ... } over IPC. Every wait is bounded; a server
 * that does not answer in time is killed. The load runs in the calling
 * process, against loopback only, for a fixed duration.
 */
const { fork } = require('node:child_process');
const autocannon = require('autocannon');
const H = require('./harness');

/** Forks file with args; resolves { child, ready } once it reports ready (within timeoutMs). */
function startServer(file, args = [], { execArgv = [], timeoutMs = 15000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = fork(file, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
    const onExit = (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`${file} exited early (${code ?? sig})`));
    };
    const timer = setTimeout(() => {
      child.removeListener('exit', onExit);
      child.kill('SIGKILL');
      reject(new Error(`${file} did not start within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    child.once('exit', onExit);
    child.once('message', (m) => {
      clearTimeout(timer);
      child.removeListener('exit', onExit);
      if (m && m.ready) resolve({ child, ready: m });
      else {
        child.kill('SIGKILL');
        reject(new Error(`${file} sent ${JSON.stringify(m)}`));
      }
    });
  });
}

/** Stops a server child: SIGTERM, then SIGKILL after 3 s. */
function stopServer(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}

/** autocannon for `duration` seconds with `connections` connections; rejects on any error or non-2xx. */
function load(url, duration, connections) {
  return new Promise((resolve, reject) => {
    autocannon({ url, duration, connections, timeout: 10 }, (err, res) => {
      if (err) return reject(err);
      if (res.errors || res.non2xx || res.timeouts) {
        return reject(new Error(`${url}: ${res.errors} errors, ${res.timeouts} timeouts, ${res.non2xx} non-2xx`));
      }
      resolve(res);
    });
  });
}

/** The figures of an autocannon result the report shows (latencies in ms). */
function latencyFigures(res) {
  return {
    p50: res.latency.p50,
    p97_5: res.latency.p97_5,
    p99: res.latency.p99,
    max: res.latency.max,
    avg: res.latency.average,
    stddev: res.latency.stddev,
    reqPerSec: res.requests.average,
    requests: res.requests.total,
  };
}

/** Samples a process's RSS every intervalMs; stop() returns [[ms, bytes], ...]. */
function sampleRss(pid, intervalMs = 250) {
  const samples = [];
  const t0 = Date.now();
  const take = () => samples.push([Date.now() - t0, H.procMemory(pid).rss]);
  take();
  const timer = setInterval(take, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

/** GET a small JSON answer from a local server (bounded: 60 s). */
async function getJson(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(60000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

module.exports = { startServer, stopServer, load, latencyFigures, sampleRss, getJson };
