import { FINALIZER } from "../../core/kinds.js";
import { channelName, type NotificationSpec } from "../../core/notifications.js";
import type { ResourceObject } from "../../core/types.js";
import type { NotificationOutbox } from "../../store/notifications.js";
import { SecretValueError, type SecretBox } from "../../store/secrets.js";
import { fail } from "../shared/failures.js";
import { ObjectReconciler, type ObjectReconcilerDeps } from "../shared/object-reconciler.js";
import type { Outcome, Verdict } from "../shared/status.js";
import { channelProblem, channelSecrets, plainChannel } from "./channels.js";
import { notificationStatusFor, type NotificationObserved } from "./status.js";

export interface NotificationDeps extends ObjectReconcilerDeps {
  outbox: NotificationOutbox;
  box: SecretBox;
}

/**
 * The Notification reconciler: checks the channel (its secrets open, its URLs are http(s)) and
 * reports what the dispatcher did with the outbox. The dispatcher never writes status; it wakes
 * this reconciler after each attempt, so the status keeps one writer.
 */
export class NotificationReconciler extends ObjectReconciler<NotificationObserved> {
  readonly kind = "Notification" as const;
  readonly finalizer = FINALIZER.notification;

  constructor(private readonly d: NotificationDeps) {
    super(d);
  }

  protected suspended(obj: ResourceObject): boolean {
    return (obj.spec as Partial<NotificationSpec>).suspend === true;
  }

  statusFor(obj: ResourceObject, observed: Partial<NotificationObserved>, outcome: Outcome): Verdict {
    return notificationStatusFor(obj, observed, outcome);
  }

  protected override secrets(obj: ResourceObject): string[] {
    try {
      return channelSecrets(plainChannel(this.d.box, obj.spec ?? {}));
    } catch {
      return [];
    }
  }

  protected async converge(obj: ResourceObject, obs: Partial<NotificationObserved>): Promise<void> {
    let channel;
    try {
      channel = plainChannel(this.d.box, obj.spec ?? {});
    } catch (e) {
      if (e instanceof SecretValueError) fail("SecretInvalid", e.message, { terminal: true });
      throw e;
    }
    const problem = channelProblem(channel);
    if (problem) fail("InvalidChannel", problem, { terminal: true });
    obs.channel = channelName(channel);
    obs.stats = await this.d.outbox.stats(obj);
  }

  /** Undelivered rows go with the Notification (delivered ones are deleted with its row). */
  protected async finalize(obj: ResourceObject): Promise<boolean> {
    await this.d.outbox.dropPending(obj.metadata.uid!);
    return true;
  }
}
