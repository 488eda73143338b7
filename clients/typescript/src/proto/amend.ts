/** Amending entries: recall, edit, reactions, and forwarding
 * (PROTOCOL.md "Amending entries", 10.11). */

import type { Message } from "./messages.js";

export interface Recall {
  conv: number;
  seq: number;
}

export interface Edit {
  conv: number;
  seq: number;
  body: string;
}

export interface React {
  conv: number;
  seq: number;
  emoji: string;
  remove?: boolean;
}

/** The amending entry written; empty when a reaction changed nothing. */
export interface AmendOk {
  entry?: Message;
}

export interface Forward {
  conv: number;
  seqs: number[];
  to_convs?: number[];
  to_users?: string[];
  merge?: boolean;
  cmid: string;
}

export interface ForwardOk {
  messages: { conv: number; seq: number; msg_id: number; cmid: string }[];
}

export interface AmendOps {
  recall: { args: Recall; result: AmendOk };
  edit: { args: Edit; result: AmendOk };
  react: { args: React; result: AmendOk };
  forward: { args: Forward; result: ForwardOk };
}
