import nodemailer from "nodemailer";
import { channelName, type NotificationChannel, type NotificationPayload } from "../../core/notifications.js";
import { unsealSecrets, type SecretBox } from "../../store/secrets.js";
import { scrub } from "../shared/failures.js";

/**
 * The five channels of a Notification (ADR 0021): HTTP ones with Node's fetch, e-mail with
 * nodemailer. Every error says what the channel answered, with the channel's secrets scrubbed.
 */

/** How long one delivery may take before it counts as failed. */
export const DELIVERY_TIMEOUT_MS = 10_000;

/** A delivery the channel refused or that did not reach it; the message is safe to show. */
export class DeliveryError extends Error {}

/** Sends one payload over one (plaintext) channel; `id` is the outbox row, sent as an idempotency key. */
export type Sender = (channel: NotificationChannel, payload: NotificationPayload, id: string) => Promise<void>;

function setAt(obj: Record<string, unknown>, path: string[], value: string): void {
  let cur = obj;
  for (const p of path.slice(0, -1)) cur = cur[p] as Record<string, unknown>;
  cur[path[path.length - 1]] = value;
}

/** The channel with its secrets in plaintext (for the sender only); throws SecretValueError. */
export function plainChannel(box: SecretBox, spec: Record<string, unknown>): NotificationChannel {
  const copy = structuredClone(spec) as Record<string, unknown>;
  for (const [field, plain] of Object.entries(unsealSecrets(box, "Notification", spec))) setAt(copy, field.split(".").slice(1), plain);
  return (copy.channel ?? {}) as NotificationChannel;
}

/** Every secret value of a plaintext channel, to scrub from what is shown. */
export function channelSecrets(c: NotificationChannel): string[] {
  const t = c.telegram;
  return [c.webhook?.url, ...Object.values(c.webhook?.headers ?? {}), c.slack?.webhookUrl, c.discord?.webhookUrl, t?.botToken, c.email?.smtp.password].filter((s): s is string => !!s);
}

/** One line a person reads: what happened to which object. */
export function summaryLine(p: NotificationPayload): string {
  const where = p.object.namespace ? `${p.object.namespace}/` : "";
  return `[berth] ${p.event}: ${p.object.kind} ${where}${p.object.name} — ${p.reason}: ${p.message}`;
}

/** A channel's address must be http(s); a URL that does not parse is named without its value. */
export function checkUrl(what: string, url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.protocol === "https:" || u.protocol === "http:" ? undefined : `${what} must be an http(s) URL (got scheme ${u.protocol})`;
  } catch {
    return `${what} is not a URL`;
  }
}

/** What is wrong with a plaintext channel, if anything (the reconciler reports it as InvalidChannel). */
export function channelProblem(c: NotificationChannel): string | undefined {
  const name = channelName(c);
  if (!name) return "spec.channel names no channel";
  if (c.webhook) return checkUrl("spec.channel.webhook.url", c.webhook.url);
  if (c.slack) return checkUrl("spec.channel.slack.webhookUrl", c.slack.webhookUrl);
  if (c.discord) return checkUrl("spec.channel.discord.webhookUrl", c.discord.webhookUrl);
  if (c.telegram?.apiUrl) return checkUrl("spec.channel.telegram.apiUrl", c.telegram.apiUrl);
  return undefined;
}

function causeOf(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err.name === "TimeoutError" || err.name === "AbortError") return `no answer within ${DELIVERY_TIMEOUT_MS / 1000}s`;
  return err.cause?.code ?? err.cause?.message ?? err.message ?? String(e);
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", "user-agent": "berth-notifications", ...headers }, body: JSON.stringify(body), signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS), redirect: "error" });
  } catch (e) {
    throw new DeliveryError(`request failed: ${causeOf(e)}`);
  }
  const text = await res.text().catch(() => "");
  if (!res.ok) throw new DeliveryError(`HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}${text ? `: ${text.slice(0, 300)}` : ""}`);
}

async function sendEmail(c: NonNullable<NotificationChannel["email"]>, p: NotificationPayload, id: string): Promise<void> {
  const transport = nodemailer.createTransport({
    host: c.smtp.host,
    port: c.smtp.port,
    secure: c.smtp.secure ?? c.smtp.port === 465,
    ...(c.smtp.username ? { auth: { user: c.smtp.username, pass: c.smtp.password ?? "" } } : {}),
    connectionTimeout: DELIVERY_TIMEOUT_MS,
    greetingTimeout: DELIVERY_TIMEOUT_MS,
    socketTimeout: DELIVERY_TIMEOUT_MS,
  });
  try {
    await transport.sendMail({ from: c.from, to: c.to, subject: `[berth] ${p.event}: ${p.object.kind} ${p.object.name}`, text: `${summaryLine(p)}\n\nat ${p.at}\n`, headers: { "X-Berth-Delivery": id, "X-Berth-Event": p.event } });
  } catch (e) {
    const err = e as Error & { response?: string; code?: string };
    throw new DeliveryError(`SMTP ${err.response ?? err.code ?? err.message}`);
  } finally {
    transport.close();
  }
}

/** The generic webhook's body: the payload as is, plus the delivery id (also the Idempotency-Key header). */
function webhookBody(p: NotificationPayload, id: string): Record<string, unknown> {
  return { apiVersion: "berth.dev/v1alpha1", kind: "NotificationEvent", id, ...p, text: summaryLine(p) };
}

async function deliver(c: NotificationChannel, p: NotificationPayload, id: string): Promise<void> {
  if (c.webhook) return post(c.webhook.url, webhookBody(p, id), { "idempotency-key": id, ...(c.webhook.headers ?? {}) });
  if (c.slack) return post(c.slack.webhookUrl, { text: summaryLine(p) });
  if (c.discord) return post(c.discord.webhookUrl, { content: summaryLine(p).slice(0, 2000) });
  if (c.telegram) return post(`${(c.telegram.apiUrl ?? "https://api.telegram.org").replace(/\/$/, "")}/bot${c.telegram.botToken}/sendMessage`, { chat_id: c.telegram.chatId, text: summaryLine(p) });
  if (c.email) return sendEmail(c.email, p, id);
  throw new DeliveryError("spec.channel names no channel");
}

/** The real sender: delivers, and scrubs the channel's secrets from any error it throws. */
export const sendNotification: Sender = async (channel, payload, id) => {
  try {
    await deliver(channel, payload, id);
  } catch (e) {
    const message = e instanceof DeliveryError ? e.message : `delivery failed: ${(e as Error).message}`;
    throw new DeliveryError(scrub(message, channelSecrets(channel)));
  }
};
