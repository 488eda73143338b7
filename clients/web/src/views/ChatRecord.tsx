// A chat record (several messages forwarded as one, kind "record"): the
// card in the thread, with a title and its first lines, and the dialog
// that lists every message of it with sender and time. A record holds
// each message's sender, time, kind, text and file name only (PROTOCOL.md
// forward): files in it cannot be opened, and a record inside a record
// has no messages of its own, so both say so. Everything is text.

import { useEffect, useRef } from "preact/hooks";
import type { Message, RecordItem } from "magpie-client";
import type { Dictionary } from "../i18n";
import { usePrefs } from "./context";
import { FileIcon, RecordIcon } from "./icons";
import { Avatar, RichText } from "./text";
import { fill } from "../i18n";

/** Lines shown on the card. */
const CARD_LINES = 4;

/** "Chat history of alice and bob", from the record's senders in order. */
export function recordTitle(items: readonly RecordItem[], t: Dictionary): string {
  const senders = [...new Set(items.map((item) => item.from))];
  const [a = "", b = ""] = senders;
  if (senders.length <= 1) return fill(t.recordTitleOne, { a });
  if (senders.length === 2) return fill(t.recordTitleTwo, { a, b });
  return fill(t.recordTitleMany, { a, b });
}

/** One message of a record in a line: its text, or what it was. */
export function recordText(item: RecordItem, t: Dictionary): string {
  const name = item.file_name ?? "";
  switch (item.kind) {
    case "text":
      return item.body;
    case "image":
      return `[${t.kindImage}] ${item.body || name}`.trim();
    case "voice":
      return `[${t.kindVoice}]`;
    case "video":
      return `[${t.kindVideo}] ${item.body || name}`.trim();
    case "file":
      return `[${t.kindFile}] ${name}`.trim();
    case "record":
      return `[${t.kindRecord}]`;
    default:
      return `[${t.kindUnsupported}]`;
  }
}

/** The card of a record message: opens the full record. */
export function RecordCard({ message, onOpen }: { message: Message; onOpen: (message: Message) => void }) {
  const { t } = usePrefs();
  const items = message.record ?? [];
  return (
    <button type="button" class="record-card" onClick={() => onOpen(message)}>
      <span class="record-card-title" dir="auto">
        {recordTitle(items, t)}
      </span>
      {items.slice(0, CARD_LINES).map((item, i) => (
        <span key={i} class="record-line" dir="auto">
          {item.from}: {recordText(item, t)}
        </span>
      ))}
      <span class="record-card-footer">
        <RecordIcon />
        {t.kindRecord} · {fill(t.recordCount, { n: String(items.length) })}
      </span>
    </button>
  );
}

/** Every message of a record, in order, in a modal dialog. */
export function ChatRecordDialog({ message, onClose }: { message: Message; onClose: () => void }) {
  const { t, lang } = usePrefs();
  const items = message.record ?? [];
  const close = useRef<HTMLButtonElement>(null);
  // Focus goes into the dialog, and back to what opened it afterwards.
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    close.current?.focus();
    return () => before?.focus();
  }, []);
  const title = recordTitle(items, t);
  return (
    <div
      class="overlay"
      role="dialog"
      aria-modal="true"
      aria-labelledby="record-title"
      onClick={(e) => e.target === e.currentTarget && onClose()}
      onKeyDown={(e) => {
        if (e.key !== "Escape") return;
        e.stopPropagation();
        onClose();
      }}
    >
      <div class="card dialog record-dialog">
        <h2 id="record-title" dir="auto">
          {title}
        </h2>
        <ol class="record-items">
          {items.map((item, i) => (
            <li key={i} class="record-item">
              <Avatar name={item.from} size="s" />
              <div class="record-item-main">
                <p class="record-item-head">
                  <span class="record-from" dir="auto">
                    {item.from}
                  </span>
                  <time dateTime={new Date(item.ts).toISOString()}>{fullTime(item.ts, lang)}</time>
                </p>
                <RecordItemContent item={item} />
              </div>
            </li>
          ))}
        </ol>
        <div class="dialog-buttons">
          <button ref={close} type="button" class="primary" onClick={onClose}>
            {t.close}
          </button>
        </div>
      </div>
    </div>
  );
}

function RecordItemContent({ item }: { item: RecordItem }) {
  const { t } = usePrefs();
  if (item.kind === "text") {
    return (
      <p class="record-text" dir="auto">
        <RichText text={item.body} />
      </p>
    );
  }
  if (item.kind === "record") {
    return (
      <p class="record-note">
        <RecordIcon /> {t.kindRecord}: {t.recordNested}
      </p>
    );
  }
  if (item.file_name !== undefined) {
    return (
      <div class="record-file">
        <p class="record-file-name" dir="auto">
          <FileIcon />
          <span>
            [{kindWord(item.kind, t)}] {item.file_name}
          </span>
        </p>
        {item.body !== "" && (
          <p class="record-text" dir="auto">
            {item.body}
          </p>
        )}
        <p class="record-note">{t.recordFileNote}</p>
      </div>
    );
  }
  return (
    <p class="record-text" dir="auto">
      {recordText(item, t)}
    </p>
  );
}

function kindWord(kind: string, t: Dictionary): string {
  if (kind === "image") return t.kindImage;
  if (kind === "voice") return t.kindVoice;
  if (kind === "video") return t.kindVideo;
  return t.kindFile;
}

/** "2026-12-02 14:05", in the reader's language. */
function fullTime(ts: number, lang: string): string {
  return new Date(ts).toLocaleString(lang, {
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
  });
}
