import type { Logger } from "winston";
import type { Manager } from "../../controller/manager.js";
import type { NotificationOutbox } from "../../store/notifications.js";
import type { SecretBox } from "../../store/secrets.js";
import type { ObjectReconcilerDeps } from "../shared/object-reconciler.js";
import { plainChannel, sendNotification, type Sender } from "./channels.js";
import { backoffFromEnv, NotificationDispatcher, type DispatcherDeps } from "./dispatcher.js";
import { NotificationReconciler } from "./reconciler.js";

export interface NotificationSetupDeps extends ObjectReconcilerDeps {
  outbox: NotificationOutbox;
  box: SecretBox;
  logger: Logger;
  /** The channels (tests may pass another). */
  send?: Sender;
  dispatcher?: Partial<Pick<DispatcherDeps, "pollMs" | "backoff" | "rate">>;
}

/** Registers the Notification controller and, on the same leader, the outbox's dispatcher. */
export function setupNotification(mgr: Manager, deps: NotificationSetupDeps): NotificationDispatcher {
  mgr.addController({ kind: "Notification", name: "notification", reconciler: new NotificationReconciler(deps), concurrency: 2 });
  const dispatcher = new NotificationDispatcher({
    outbox: deps.outbox,
    channelOf: (row) => plainChannel(deps.box, row.spec),
    send: deps.send ?? sendNotification,
    logger: deps.logger,
    enqueue: (key) => mgr.enqueue(key),
    backoff: backoffFromEnv(),
    ...deps.dispatcher,
  });
  mgr.add(dispatcher);
  return dispatcher;
}
