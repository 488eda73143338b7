/** Typing indicators: "alice is typing…" in a 1:1 conversation or a small
 * group (PROTOCOL.md: typing, the typing push). Ephemeral on purpose:
 * nothing is stored or replayed after a reconnect. */

type Empty = Record<string, never>;

/** `typing`: the caller is typing in `conv`, or stopped. Renew it every
 * few seconds (about half of `ttl_ms`) while typing, not per keystroke. */
export interface Typing {
  conv: number;
  /** `true` (the default): typing; `false`: the text was cleared. */
  active?: boolean;
}

/** The `typing` push: another member is typing, or stopped. Clear the
 * indicator when `ttl_ms` passes without a renewal, on `active: false`,
 * or on a message from that user in that conversation. */
export interface TypingNotice {
  conv: number;
  user_id: number;
  /** The typist's username. */
  user: string;
  active: boolean;
  /** How long the notice holds without a renewal, in ms. */
  ttl_ms: number;
}

/** The typing operation. */
export interface TypingOps {
  typing: { args: Typing; result: Empty };
}

/** The typing push. */
export interface TypingPushes {
  typing: TypingNotice;
}
