/**
 * Notifications (issue 20, ADR 0021): the event types a Notification subscribes to, and which of
 * the Events the controllers already record each one stands for. The store consults this when it
 * records an Event, so the outbox row is written by the same statement (docs/notifications.md).
 */

export const NOTIFICATION_EVENTS = [
  "RolloutSucceeded", "RolloutFailed", "RolledBack", "BuildFailed", "BackupFailed", "DriftRepaired", "SyncFailed", "CertificateExpiring",
] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

/** The Events a Notification event type stands for: the involved kind, the Event type, its reasons (any when absent). */
interface EventMatch {
  kind: string;
  type: "Normal" | "Warning";
  reasons?: readonly string[];
}

/**
 * The mapping (documented in docs/notifications.md). A Sync records a Warning only when a failure
 * appears or changes (transitionEvents), so every Warning of a Sync is a SyncFailed.
 */
export const EVENT_MAP: Readonly<Record<NotificationEvent, EventMatch>> = {
  // Ready turning True: the Application reconciler's "N/N replicas ready" after a rollout.
  RolloutSucceeded: { kind: "Application", type: "Normal", reasons: ["Ready"] },
  RolloutFailed: { kind: "Application", type: "Warning", reasons: ["ProgressDeadlineExceeded", "RolloutFailed", "ImageNotFound", "ImagePullFailed"] },
  RolledBack: { kind: "Application", type: "Warning", reasons: ["RolledBack"] },
  BuildFailed: { kind: "Application", type: "Warning", reasons: ["BuildFailed"] },
  BackupFailed: { kind: "Database", type: "Warning", reasons: ["BackupFailed"] },
  DriftRepaired: { kind: "Application", type: "Normal", reasons: ["DriftRepaired"] },
  SyncFailed: { kind: "Sync", type: "Warning" },
  CertificateExpiring: { kind: "Domain", type: "Warning", reasons: ["CertificateExpiring"] },
};

/** The notification event type an Event is, if any. */
export function notificationEventOf(kind: string, type: string, reason: string): NotificationEvent | undefined {
  return NOTIFICATION_EVENTS.find((n) => {
    const m = EVENT_MAP[n];
    return m.kind === kind && m.type === type && (!m.reasons || m.reasons.includes(reason));
  });
}

/** What a delivery says: the Event and the object it is about (the outbox row's payload). */
export interface NotificationPayload {
  event: NotificationEvent;
  type: "Normal" | "Warning";
  reason: string;
  message: string;
  object: { kind: string; namespace?: string; name: string; uid: string };
  /** When the Event was recorded (ISO 8601). */
  at: string;
}

export interface WebhookChannel {
  url: string;
  headers?: Record<string, string>;
}
export interface ChatChannel {
  webhookUrl: string;
}
export interface TelegramChannel {
  botToken: string;
  chatId: string;
  apiUrl?: string;
}
export interface EmailChannel {
  smtp: { host: string; port: number; secure?: boolean; username?: string; password?: string };
  from: string;
  to: string[];
}

/** Exactly one channel (the CRD allows one property). */
export interface NotificationChannel {
  webhook?: WebhookChannel;
  slack?: ChatChannel;
  discord?: ChatChannel;
  telegram?: TelegramChannel;
  email?: EmailChannel;
}

export type ChannelName = keyof NotificationChannel;

export interface NotificationSpec {
  channel: NotificationChannel;
  events: NotificationEvent[];
  /** Only Events of these Applications (Events of other kinds are not filtered). */
  applications?: string[];
  suspend?: boolean;
}

export function channelName(c: NotificationChannel | undefined): ChannelName | undefined {
  return (["webhook", "slack", "discord", "telegram", "email"] as const).find((k) => c?.[k] !== undefined);
}
