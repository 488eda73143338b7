/**
 * Applying amending entries (recall, edit, reaction) to the messages they
 * target (PROTOCOL.md 10.11), the counterpart of the Rust client's
 * `magpie_client::amend::apply`.
 *
 * Both functions return a new object when something changes and the same
 * object otherwise, so UI state built on identity (Preact, React) re-renders
 * exactly what changed.
 */

import type { Message } from "./proto/messages.js";

/** Apply `entry` (kind recall, edit or reaction) to `target`, the message
 * of the same conversation whose seq is `entry.target`. `me` is the
 * caller's username, for a reaction's `mine`. */
export function applyAmend(target: Message, entry: Message, me: string): Message {
  if (entry.conv !== target.conv || entry.target !== target.seq) return target;
  switch (entry.kind) {
    case "recall": {
      if (target.recalled !== undefined) return target;
      const {
        file: _file,
        mentions: _mentions,
        mention_all: _all,
        reply: _reply,
        forwarded: _forwarded,
        record: _record,
        reactions: _reactions,
        ...rest
      } = target;
      return { ...rest, body: "", recalled: { by: entry.from, ts: entry.ts } };
    }
    case "edit": {
      if (target.recalled !== undefined) return target;
      if (target.edited_ts !== undefined && target.edited_ts > entry.ts) return target;
      return { ...target, body: entry.body, edited_ts: entry.ts };
    }
    case "reaction": {
      const change = entry.reaction;
      if (target.recalled !== undefined || change === undefined) return target;
      const reactions = [...(target.reactions ?? [])];
      const at = reactions.findIndex((r) => r.emoji === change.emoji);
      const before = at >= 0 ? reactions[at] : undefined;
      const next = { emoji: change.emoji, count: change.count, ...(before?.mine ? { mine: true } : {}) };
      if (entry.from === me) {
        if (change.add) next.mine = true;
        else delete next.mine;
      }
      if (next.count <= 0) {
        if (at >= 0) reactions.splice(at, 1);
      } else if (at >= 0) {
        reactions[at] = next;
      } else {
        reactions.push(next);
      }
      const { reactions: _old, ...rest } = target;
      return reactions.length > 0 ? { ...rest, reactions } : rest;
    }
    default:
      return target;
  }
}

/** A recall also empties the quotes of replies to its target. */
export function applyToQuote(message: Message, entry: Message): Message {
  if (
    entry.kind !== "recall" ||
    message.conv !== entry.conv ||
    message.reply === undefined ||
    message.reply.seq !== entry.target ||
    message.reply.recalled === true
  ) {
    return message;
  }
  return { ...message, reply: { ...message.reply, excerpt: "", recalled: true } };
}
