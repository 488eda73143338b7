/** The change stream: everything but messages that reaches every device of
 * a user (PROTOCOL.md: changes, the change push, 10.8). */

/** One entry of a user's stream. `data`'s type depends on `kind`; skip
 * kinds you do not know and still advance the cursor. */
export interface Change {
  seq: number;
  ts: number;
  kind: string;
  data: unknown;
}

export interface Changes {
  after?: number;
  limit?: number;
}

export interface ChangesOk {
  changes: Change[];
  more: boolean;
  head: number;
  directory_version: number;
  reset: boolean;
}

export interface ChangeOps {
  changes: { args: Changes | void; result: ChangesOk };
}

export interface ChangePushes {
  change: Change;
}
