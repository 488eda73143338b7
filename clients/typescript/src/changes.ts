/**
 * The change stream's cursor (PROTOCOL.md 10.8): the same rule as messages,
 * with one cursor per user instead of one per conversation. Pure
 * bookkeeping, like `SyncState`.
 */

import type { Change } from "./proto/changes.js";

export class ChangeCursor {
  /** The highest change seq applied (0: none). */
  position: number;

  constructor(position = 0) {
    this.position = Number.isSafeInteger(position) && position > 0 ? position : 0;
  }

  /** Whether a pushed change is the next one (`apply`), was applied
   * (`duplicate`), or reveals a gap (`gap`: catch up with `changes`). */
  accept(change: Change): "apply" | "duplicate" | "gap" {
    if (change.seq <= this.position) return "duplicate";
    if (change.seq !== this.position + 1) return "gap";
    this.position = change.seq;
    return "apply";
  }
}
