// The conversation list: avatar, name, last message, time, unread badge,
// mention flag, pinned first, muted dimmed, drafts shown.

import { useState } from "preact/hooks";
import type { Conversation } from "magpie-client";
import type { Chats } from "../model/chats";
import { UserAvatar } from "./Avatar";
import { usePrefs } from "./context";
import { Avatar, shortTime } from "./text";
import { MoreIcon, PinIcon } from "./icons";

export function chatName(row: Conversation): string {
  return row.kind === "group" ? (row.name ?? `#${row.conv}`) : (row.peer ?? `#${row.conv}`);
}

export function isMuted(row: Conversation, now = Date.now()): boolean {
  const until = row.muted_until ?? 0;
  return until === -1 || until > now;
}

export function ChatList({ chats, filter }: { chats: Chats; filter: string }) {
  const { t, lang } = usePrefs();
  const open = chats.open.value;
  const needle = filter.trim().toLowerCase();
  const [menuFor, setMenuFor] = useState<number | undefined>(undefined);
  const rows = chats.list.value.filter((row) => needle === "" || chatName(row).toLowerCase().includes(needle));
  if (rows.length === 0) return needle === "" ? <p class="empty">{t.noChats}</p> : null;
  return (
    <ul class="chat-list" role="list">
      {rows.map((row) => {
        const name = chatName(row);
        const selected = open !== undefined && "conv" in open && open.conv === row.conv;
        const muted = isMuted(row);
        const unread = row.unread > 0 || row.marked_unread === true;
        // A friend's own avatar when the chat is with a friend.
        const peer = row.kind === "direct" && row.peer !== undefined ? chats.people.friendNamed(row.peer) : undefined;
        return (
          <li key={row.conv} class="chat-item">
            <button
              type="button"
              class={`chat-row${selected ? " selected" : ""}${muted ? " muted" : ""}`}
              aria-current={selected ? "true" : undefined}
              onClick={() => void chats.select(row.conv)}
              data-conv={row.conv}
            >
              {peer !== undefined ? (
                <UserAvatar client={chats.client} card={peer.user} name={name} />
              ) : (
                <Avatar name={name} />
              )}
              <span class="chat-row-main">
                <span class="chat-row-top">
                  <span class="chat-name" dir="auto">
                    {name}
                  </span>
                  {row.pinned === true && (
                    <span class="pin" title={t.pinned} aria-label={t.pinned}>
                      <PinIcon />
                    </span>
                  )}
                  <span class="chat-time">{row.last !== null ? shortTime(row.last.ts, lang) : ""}</span>
                </span>
                <span class="chat-row-bottom">
                  <span class="chat-excerpt" dir="auto">
                    {row.mentioned === true && <span class="mention-flag">{t.mentionedYou} </span>}
                    {row.draft !== undefined && row.draft !== "" ? (
                      <>
                        <span class="draft-flag">{t.draft}: </span>
                        {row.draft}
                      </>
                    ) : (
                      lastText(row, t)
                    )}
                  </span>
                  {unread && (
                    <span class={`badge${muted ? " badge-muted" : ""}`} aria-label={`${row.unread} ${t.unread}`}>
                      {row.unread > 99 ? "99+" : row.unread > 0 ? row.unread : ""}
                    </span>
                  )}
                </span>
              </span>
            </button>
            <button
              type="button"
              class="more row-more"
              aria-label={`${t.chatActions}: ${name}`}
              aria-expanded={menuFor === row.conv}
              onClick={() => setMenuFor(menuFor === row.conv ? undefined : row.conv)}
            >
              <MoreIcon />
            </button>
            {menuFor === row.conv && (
              <div
                class="menu menu-down row-menu"
                role="menu"
                onKeyDown={(e) => e.key === "Escape" && setMenuFor(undefined)}
              >
                {(
                  [
                    [row.pinned === true ? t.unpin : t.pin, { pinned: row.pinned !== true }],
                    [muted ? t.unmute : t.mute, { muted_until: muted ? 0 : -1 }],
                    [t.markUnread, { marked_unread: true }],
                    [t.hideChat, { hidden: true }],
                  ] as const
                ).map(([label, change]) => (
                  <button
                    type="button"
                    role="menuitem"
                    key={label}
                    onClick={() => {
                      setMenuFor(undefined);
                      chats.setting(row.conv, change);
                    }}
                  >
                    {label}
                  </button>
                ))}
              </div>
            )}
          </li>
        );
      })}
    </ul>
  );
}

function lastText(row: Conversation, t: ReturnType<typeof usePrefs>["t"]): string {
  const last = row.last;
  if (last === null) return "";
  if (last.recalled === true) return `${last.from} ${t.recalledAMessage}`;
  const prefix = row.kind === "group" ? `${last.from}: ` : "";
  switch (last.kind) {
    case "text":
      return prefix + last.excerpt + (last.truncated ? "…" : "");
    case "image":
      return `${prefix}[${t.kindImage}]`;
    case "voice":
      return `${prefix}[${t.kindVoice}]`;
    case "video":
      return `${prefix}[${t.kindVideo}]`;
    case "file":
      return `${prefix}[${t.kindFile}] ${last.excerpt}`;
    case "record":
      return `${prefix}[${t.kindRecord}]`;
    case "event":
      return t.kindEvent;
    default:
      return `${prefix}[${t.kindUnsupported}]`;
  }
}
