// One conversation: its header (name, typing), the history (virtualised,
// older pages loaded on scroll), messages still being sent, and the
// composer (Enter sends, Shift+Enter is a new line, Esc closes).

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import type { Message, OutboxEntry } from "magpie-client";
import { outgoingFor, type Chats } from "../model/chats";
import { chatName } from "./ChatList";
import { usePrefs } from "./context";
import { errorText } from "./SignIn";
import { Avatar, RichText, shortTime } from "./text";
import { VirtualList } from "./VirtualList";

export function ChatView({ chats }: { chats: Chats }) {
  const { t } = usePrefs();
  const open = chats.open.value;
  if (open === undefined) {
    return (
      <div class="empty-state">
        <p>{t.pickChat}</p>
      </div>
    );
  }
  const conv = "conv" in open ? open.conv : undefined;
  const peer = "peer" in open ? open.peer : undefined;
  const row = conv !== undefined ? chats.rows.value.get(conv) : undefined;
  const name = row !== undefined ? chatName(row) : (peer ?? "");
  const thread = conv !== undefined ? chats.thread(conv) : undefined;
  const messages = (thread?.messages.value ?? []).filter(
    (m) => m.kind !== "recall" && m.kind !== "edit" && m.kind !== "reaction",
  );
  const pending = outgoingFor(chats, conv, row?.kind === "direct" ? row.peer : peer);
  const typists = conv !== undefined ? [...(chats.typing.value.get(conv)?.keys() ?? [])] : [];
  const peerRead = conv !== undefined ? (chats.peerRead.value.get(conv) ?? 0) : 0;
  const isGroup = row?.kind === "group";

  return (
    <section class="chat" aria-label={name}>
      <header class="chat-header">
        <button type="button" class="icon back" aria-label={t.back} onClick={() => (chats.open.value = undefined)}>
          ‹
        </button>
        <Avatar name={name} />
        <div class="chat-title">
          <h2 dir="auto">{name}</h2>
          <p class="typing" aria-live="polite">
            {typists.length > 0 ? `${typists.join(", ")} ${t.isTyping}` : ""}
          </p>
        </div>
      </header>
      <VirtualList<Message>
        key={conv ?? peer}
        label={t.messages}
        items={messages}
        keyOf={keyOfMessage}
        onNearTop={conv !== undefined ? () => void chats.loadOlder(conv) : undefined}
        render={(m) => <MessageItem message={m} me={chats.me} isGroup={isGroup} peerRead={peerRead} />}
        footer={pending.map((entry) => (
          <PendingItem key={entry.cmid} entry={entry} chats={chats} />
        ))}
      />
      <Composer
        key={conv ?? peer}
        onSend={(body) => chats.send(conv !== undefined ? { conv } : { peer: peer ?? "" }, body)}
        onType={(text) => conv !== undefined && chats.typed(conv, text)}
        onClose={() => (chats.open.value = undefined)}
      />
    </section>
  );
}

const keyOfMessage = (m: Message): string => String(m.seq);

function MessageItem({
  message,
  me,
  isGroup,
  peerRead,
}: {
  message: Message;
  me: string;
  isGroup: boolean;
  peerRead: number;
}) {
  const { t, lang } = usePrefs();
  const mine = message.from === me;
  if (message.kind === "event") {
    return <p class="event">{t.kindEvent}</p>;
  }
  if (message.recalled !== undefined) {
    return (
      <p class="event">{message.recalled.by === me ? t.youRecalled : `${message.recalled.by} ${t.recalledAMessage}`}</p>
    );
  }
  return (
    <div class={`message${mine ? " mine" : ""}`} data-seq={message.seq}>
      {!mine && <Avatar name={message.from} size="s" />}
      <div class="bubble">
        {isGroup && !mine && <p class="sender">{message.from}</p>}
        {message.reply !== undefined && (
          <blockquote class="quote" dir="auto">
            <span class="quote-from">{message.reply.from}</span>
            {message.reply.recalled === true ? t.recalledAMessage : message.reply.excerpt}
          </blockquote>
        )}
        <p class="body" dir="auto">
          {message.kind === "text" ? <RichText text={message.body} /> : `[${t.kindUnsupported}]`}
        </p>
        {message.reactions !== undefined && (
          <p class="reactions">
            {message.reactions.map((r) => (
              <span key={r.emoji} class={`reaction${r.mine === true ? " mine" : ""}`}>
                {r.emoji} {r.count}
              </span>
            ))}
          </p>
        )}
        <p class="meta">
          {message.edited_ts !== undefined && <span class="edited">{t.edited} · </span>}
          <time dateTime={new Date(message.ts).toISOString()}>{shortTime(message.ts, lang)}</time>
          {mine && !isGroup && (
            <span class="tick" aria-label={peerRead >= message.seq ? t.read : t.sent}>
              {peerRead >= message.seq ? " ✓✓" : " ✓"}
            </span>
          )}
        </p>
      </div>
    </div>
  );
}

function PendingItem({ entry, chats }: { entry: OutboxEntry; chats: Chats }) {
  const { t } = usePrefs();
  const failed = entry.status === "failed";
  return (
    <div class={`message mine pending${failed ? " failed" : ""}`} data-cmid={entry.cmid}>
      <div class="bubble">
        <p class="body" dir="auto">
          <RichText text={entry.args.body} />
        </p>
        <p class="meta">
          {failed ? (
            <>
              <span class="error" role="alert">
                {errorText(t, entry.error?.code ?? "internal")}
              </span>{" "}
              <button type="button" class="link" onClick={() => chats.retry(entry.cmid)}>
                {t.retry}
              </button>{" "}
              <button type="button" class="link" onClick={() => chats.discard(entry.cmid)}>
                {t.delete}
              </button>
            </>
          ) : (
            <span class="sending">{t.sending}</span>
          )}
        </p>
      </div>
    </div>
  );
}

function Composer({
  onSend,
  onType,
  onClose,
}: {
  onSend: (body: string) => void;
  onType: (text: string) => void;
  onClose: () => void;
}) {
  const { t } = usePrefs();
  const [text, setText] = useState("");
  const input = useRef<HTMLTextAreaElement>(null);
  useEffect(() => input.current?.focus(), []);
  const send = useCallback(() => {
    if (text.trim() === "") return;
    onSend(text);
    setText("");
    input.current?.focus();
  }, [text, onSend]);
  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      <label class="visually-hidden" for="composer-input">
        {t.messageLabel}
      </label>
      <textarea
        id="composer-input"
        ref={input}
        rows={1}
        value={text}
        placeholder={t.messagePlaceholder}
        onInput={(e) => {
          setText(e.currentTarget.value);
          onType(e.currentTarget.value);
        }}
        onKeyDown={(e) => {
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            send();
          } else if (e.key === "Escape") {
            onClose();
          }
        }}
      />
      <button type="submit" class="primary" disabled={text.trim() === ""}>
        {t.send}
      </button>
    </form>
  );
}
