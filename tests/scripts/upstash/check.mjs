// The real @upstash/redis client against a Luma process's HTTP API, with the client's default
// options (base64 replies, auto-pipelining, read-your-writes headers): commands, JSON values,
// a pipeline, a multi-exec, and subscribe() receiving messages published over RESP.
// Usage: node check.mjs path/to/luma
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Redis } from "@upstash/redis";

const TOKEN = "s3cret-token";
const dir = mkdtempSync(path.join(os.tmpdir(), "luma-upstash-"));
const luma = spawn(process.argv[2], [
  "--port", "0", "--http-port", "0", "--dir", path.join(dir, "data"), "--requirepass", TOKEN,
], { env: { ...process.env, NO_COLOR: "1" } });

const addresses = await new Promise((resolve, reject) => {
  let out = "";
  let http = null;
  const timer = setTimeout(() => reject(new Error("luma did not start: " + out)), 20000);
  luma.stdout.on("data", (chunk) => {
    out += chunk;
    http ??= out.match(/HTTP API on (http:\/\/[\d.]+:\d+)/)?.[1];
    const resp = out.match(/Ready to accept connections tcp on ([\d.]+):(\d+)/);
    if (http && resp) {
      clearTimeout(timer);
      resolve({ http, host: resp[1], port: Number(resp[2]) });
    }
  });
});

/** One RESP command on a fresh connection (AUTH first); resolves with the raw reply. */
function resp(...args) {
  return new Promise((resolve, reject) => {
    const s = net.connect(addresses.port, addresses.host);
    const encode = (a) => `*${a.length}\r\n` + a.map((x) => `$${Buffer.byteLength(x)}\r\n${x}\r\n`).join("");
    s.write(encode(["AUTH", TOKEN]) + encode(args.map(String)));
    let got = "";
    s.on("data", (d) => {
      got += d;
      const lines = got.split("\r\n");
      if (lines.length > 2) {
        s.end();
        resolve(lines[1]);
      }
    });
    s.on("error", reject);
  });
}

let passed = 0;
let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e?.stack ?? e}`);
  }
}
function eq(got, want) {
  const [g, w] = [JSON.stringify(got), JSON.stringify(want)];
  if (g !== w) throw new Error(`got ${g}, want ${w}`);
}

const redis = new Redis({ url: addresses.http, token: TOKEN, enableTelemetry: false });

await check("set/get/incr/expire", async () => {
  eq(await redis.set("greeting", "hello"), "OK");
  eq(await redis.get("greeting"), "hello");
  eq(await redis.incr("counter"), 1);
  eq(await redis.incrby("counter", 41), 42);
  eq(await redis.expire("greeting", 100), 1);
  const ttl = await redis.ttl("greeting");
  if (!(ttl > 90 && ttl <= 100)) throw new Error(`ttl ${ttl}`);
  eq(await redis.get("missing"), null);
  eq(await redis.set("k", "v", { ex: 60, nx: true }), "OK");
  eq(await redis.set("k", "w", { nx: true }), null);
});

await check("json values and hashes", async () => {
  eq(await redis.set("doc", { name: "luma", tags: ["kv", "vector"], n: 3 }), "OK");
  eq(await redis.get("doc"), { name: "luma", tags: ["kv", "vector"], n: 3 });
  eq(await redis.hset("user:1", { name: "ada", age: 36 }), 2);
  // Field order is the store's (as with Redis's large hashes), so compare sorted.
  const user = await redis.hgetall("user:1");
  eq(Object.keys(user).sort().map((k) => [k, user[k]]), [["age", 36], ["name", "ada"]]);
  eq(await redis.hget("user:1", "name"), "ada");
  eq(await redis.lpush("list", "a", "b"), 2);
  eq(await redis.lrange("list", 0, -1), ["b", "a"]);
  eq(await redis.zadd("z", { score: 1.5, member: "m" }), 1);
  eq(await redis.zrange("z", 0, -1, { withScores: true }), ["m", 1.5]);
});

await check("pipeline", async () => {
  const p = redis.pipeline();
  p.set("p1", "one");
  p.incr("pc");
  p.get("p1");
  p.del("p1");
  eq(await p.exec(), ["OK", 1, "one", 1]);
});

await check("multi-exec", async () => {
  const tx = redis.multi();
  tx.set("t", 10);
  tx.incrby("t", 5);
  tx.get("t");
  eq(await tx.exec(), ["OK", 15, 15]);
});

await check("errors", async () => {
  await redis.set("str", "x");
  try {
    await redis.lpush("str", "y");
    throw new Error("no error");
  } catch (e) {
    if (!String(e.message).includes("WRONGTYPE")) throw e;
  }
  const wrong = new Redis({ url: addresses.http, token: "nope", enableTelemetry: false });
  try {
    await wrong.get("greeting");
    throw new Error("a wrong token was accepted");
  } catch (e) {
    if (!String(e.message).includes("Unauthorized")) throw e;
  }
});

await check("subscribe receives what RESP publishes", async () => {
  const sub = redis.subscribe(["news"]);
  const received = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no message")), 5000);
    sub.on("message", ({ channel, message }) => {
      clearTimeout(timer);
      resolve([channel, message]);
    });
  });
  // Publish until the subscription is in place (the stream opens asynchronously).
  let receivers = ":0";
  for (let i = 0; i < 50 && receivers === ":0"; i++) {
    await new Promise((r) => setTimeout(r, 50));
    receivers = await resp("PUBLISH", "news", "hello from RESP");
  }
  eq(receivers, ":1");
  eq(await received, ["news", "hello from RESP"]);
  await sub.unsubscribe();
  eq(await redis.publish("news", "after"), 0);
});

luma.kill("SIGTERM");
rmSync(dir, { recursive: true, force: true });
console.log(`upstash_client: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
