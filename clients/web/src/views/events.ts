// A group's events as sentences: who did what, in the reader's language.
// Names stay text; the templates only place them.

import { isKnownGroupEvent, type GroupEvent } from "magpie-client";
import { fill, type Dictionary } from "../i18n";

export function describeEvent(event: GroupEvent | undefined, t: Dictionary): string {
  if (event === undefined || !isKnownGroupEvent(event)) return t.kindEvent;
  switch (event.type) {
    case "created":
      return fill(t.evCreated, { by: event.by, name: event.name });
    case "invited":
      return fill(t.evInvited, { by: event.by, users: event.users.join(", ") });
    case "joined":
      return fill(t.evJoined, { user: event.user });
    case "left":
      return fill(t.evLeft, { user: event.user });
    case "removed":
      return fill(t.evRemoved, { by: event.by, user: event.user });
    case "role":
      return fill(t.evRole, { by: event.by, user: event.user, role: event.role });
    case "transferred":
      return fill(t.evTransferred, { from: event.from, to: event.to });
    case "muted":
      return fill(t.evMuted, { by: event.by, user: event.user });
    case "muted_all":
      return fill(event.on ? t.evMutedAll : t.evUnmutedAll, { by: event.by });
    case "updated":
      return fill(t.evUpdated, { by: event.by });
    case "nickname":
      return fill(t.evNickname, { user: event.user, nickname: event.nickname });
    case "dissolved":
      return fill(t.evDissolved, { by: event.by });
    default:
      return t.kindEvent;
  }
}
