/** The caller's own settings of each conversation: pinned, muted, marked
 * unread, hidden, and a draft (PROTOCOL.md "My settings of each
 * conversation": conv_set, conv_settings; the ConvSettings object). The
 * same on every device through the `conv_settings` change; nobody else
 * sees them. */

/** `muted_until` for notifications muted until unmuted. */
export const MUTED_FOREVER = -1;

/** One user's settings of one conversation, always whole (never a
 * difference), so applying one twice is harmless. */
export interface ConvSettings {
  conv: number;
  /** Listed before the unpinned conversations. */
  pinned: boolean;
  /** `0` not muted, `-1` until unmuted, else until this time (ms since
   * the epoch). Muted now: `muted_until === -1 || muted_until > now`.
   * Alerts only: messages are still delivered and counted. */
  muted_until: number;
  /** Shown as unread even with nothing unread; a `read` clears it. */
  marked_unread: boolean;
  /** Hidden while the newest entry that is not quiet has a seq at most
   * this; `0` not hidden. A new message brings it back by itself. */
  hidden_seq: number;
  /** The text being written, for every device; empty for none. */
  draft: string;
}

/** `conv_set`: at least one setting; the others keep their value. */
export interface ConvSet {
  conv: number;
  pinned?: boolean;
  /** `0` unmutes, `-1` mutes until unmuted, a future time mutes until
   * then. */
  muted_until?: number;
  marked_unread?: boolean;
  /** `true` hides the conversation up to its newest entry; `false` shows
   * it again. */
  hidden?: boolean;
  /** `""` clears it. At most 4096 bytes (or `max_body_bytes`, if
   * smaller), no U+0000. Save on a pause, not per keystroke. */
  draft?: string;
}

/** `conv_settings`: one page of the conversations whose settings are not
 * the defaults (hidden ones included), by id: what a new device loads
 * once before following the change stream. */
export interface ConvSettingsList {
  /** Continue after this conversation id (the previous page's `next`). */
  after?: number;
  /** 1–500, default 200. */
  limit?: number;
}

/** The answer to `conv_settings`; a conversation not listed has the
 * defaults. */
export interface ConvSettingsOk {
  settings: ConvSettings[];
  next?: number;
}

/** The conversation settings operations. */
export interface ConvSettingsOps {
  conv_set: { args: ConvSet; result: ConvSettings };
  conv_settings: { args: ConvSettingsList | void; result: ConvSettingsOk };
}
