// Message text as text: never as HTML. Bodies, names and file names come
// from other people and are rendered as Preact text nodes, which the DOM
// escapes. The one thing turned into markup is a web address, and only an
// http(s) one, opened without a referrer or a handle on this page.

import type { ComponentChildren } from "preact";

const WEB_ADDRESS = /\bhttps?:\/\/[^\s<>"'）】」]+/giu;

export function RichText({ text }: { text: string }) {
  const parts: ComponentChildren[] = [];
  let at = 0;
  for (const match of text.matchAll(WEB_ADDRESS)) {
    const start = match.index ?? 0;
    // A trailing full stop or bracket is punctuation, not address.
    const address = match[0].replace(/[.,;:!?)\]]+$/u, "");
    if (start > at) parts.push(text.slice(at, start));
    parts.push(
      <a href={address} target="_blank" rel="noopener noreferrer nofollow">
        {address}
      </a>,
    );
    at = start + address.length;
  }
  if (at < text.length) parts.push(text.slice(at));
  return <>{parts}</>;
}

/** Initials for an avatar, from a name in any script. */
export function initials(name: string): string {
  const chars = [...name.trim()];
  const first = chars[0] ?? "?";
  return /[a-z]/iu.test(first) ? chars.slice(0, 2).join("").toUpperCase() : first;
}

/** A stable hue for a name, so each person keeps their colour. */
export function hueOf(name: string): number {
  let hash = 0;
  for (const char of name) hash = (hash * 31 + (char.codePointAt(0) ?? 0)) >>> 0;
  return hash % 360;
}

export function Avatar({
  name,
  hueKey = name,
  size = "m",
}: {
  name: string;
  /** What the colour follows: the username, which never changes, where
   * the name shown is a nickname. */
  hueKey?: string;
  size?: "s" | "m" | "l";
}) {
  return (
    <span class={`avatar avatar-${size} hue-${hueOf(hueKey) % 12}`} aria-hidden="true">
      {initials(name)}
    </span>
  );
}

/** "14:05" today, "Mon" this week, "2026-11-03" before. */
export function shortTime(ts: number, lang: string): string {
  const date = new Date(ts);
  const now = new Date();
  if (date.toDateString() === now.toDateString()) {
    return date.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
  }
  if (now.getTime() - ts < 6 * 86_400_000) return date.toLocaleDateString(lang, { weekday: "short" });
  return date.toLocaleDateString(lang, { year: "numeric", month: "2-digit", day: "2-digit" });
}
