#!/usr/bin/env node
// Verifies a trackd webhook (Standard Webhooks, `v1` HMAC-SHA256) with Node.js's standard library.
//
//     node verify_webhook.mjs <secret> <webhook-id> <webhook-timestamp> <webhook-signature> < body
//
// The body is read from stdin as raw bytes: verify exactly what arrived, before any
// JSON parsing. Exit status: 0 valid, 1 invalid, 2 usage. WEBHOOK_TOLERANCE_SECONDS
// sets how far webhook-timestamp may be from now (default 300; 0 turns the check off,
// for old test vectors only).

import { createHmac, timingSafeEqual } from "node:crypto";
import { pathToFileURL } from "node:url";

export const TOLERANCE_SECONDS = 5 * 60;

/** Whether one `v1,` signature in the header signs `{id}.{timestamp}.{body}` with the secret. */
export function verify(secret, webhookId, timestamp, signatureHeader, body, tolerance = TOLERANCE_SECONDS) {
  if (!/^[0-9]+$/.test(timestamp)) return false;
  if (tolerance > 0 && Math.abs(Date.now() / 1000 - Number(timestamp)) > tolerance) {
    return false; // too old or too new: a replayed or delayed request
  }
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = Buffer.from(
    createHmac("sha256", key).update(`${webhookId}.${timestamp}.`).update(body).digest("base64"),
  );
  for (const entry of signatureHeader.split(" ")) { // two entries during a key rotation
    const comma = entry.indexOf(",");
    if (comma < 0 || entry.slice(0, comma) !== "v1") continue;
    const signature = Buffer.from(entry.slice(comma + 1));
    if (signature.length === expected.length && timingSafeEqual(signature, expected)) return true;
  }
  return false;
}

/**
 * What a receiver does with one request: "invalid" (answer 400), "duplicate" or "process" (answer 2xx).
 *
 * `seen` holds the webhook-ids already processed. Retries and replays resend an
 * event with the same webhook-id, so keep them at least as long as the retry
 * schedule (about 3 days), in the same transaction as the processing.
 */
export function handle(secret, headers, body, seen, tolerance = TOLERANCE_SECONDS) {
  const webhookId = headers["webhook-id"];
  if (!verify(secret, webhookId, headers["webhook-timestamp"], headers["webhook-signature"], body, tolerance)) {
    return "invalid";
  }
  if (seen.has(webhookId)) return "duplicate";
  seen.add(webhookId);
  return "process";
}

async function main(args) {
  if (args.length !== 4) {
    console.error("usage: node verify_webhook.mjs <secret> <webhook-id> <webhook-timestamp> <webhook-signature> < body");
    return 2;
  }
  const raw = process.env.WEBHOOK_TOLERANCE_SECONDS ?? String(TOLERANCE_SECONDS);
  if (!/^[0-9]+$/.test(raw)) {
    console.error("WEBHOOK_TOLERANCE_SECONDS must be a whole number of seconds");
    return 2;
  }
  const [secret, webhookId, timestamp, signature] = args;
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const headers = { "webhook-id": webhookId, "webhook-timestamp": timestamp, "webhook-signature": signature };
  const outcome = handle(secret, headers, Buffer.concat(chunks), new Set(), Number(raw));
  console.log(outcome === "process" ? "valid" : outcome);
  return outcome === "process" ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
