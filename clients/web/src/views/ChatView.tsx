// One conversation: its header (name, typing), the history (virtualised,
// older pages loaded on scroll), messages still being sent, and the
// composer (Enter sends, Shift+Enter is a new line, Esc closes). In
// selection mode the composer gives way to a bar that forwards the ticked
// messages one by one or as a chat record.

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import type { Message, OutboxEntry } from "magpie-client";
import { isForwardable, outgoingFor, type Chats } from "../model/chats";
import { chatName } from "./ChatList";
import { usePrefs } from "./context";
import { describeEvent } from "./events";
import { GroupPanel } from "./GroupPanel";
import { errorText } from "./SignIn";
import { GroupSendNotice } from "./GroupSendNotice";
import { Avatar, RichText, shortTime } from "./text";
import { VirtualList } from "./VirtualList";
import { AttachButton, PendingUploads, VoiceButton, dropAndPaste } from "./Attachments";
import { FILE_KINDS, FileMessage } from "./FileMessage";
import { ChatRecordDialog, RecordCard } from "./ChatRecord";
import { ForwardDialog } from "./ForwardDialog";
import { BackIcon, CloseIcon, ForwardIcon, MoreIcon } from "./icons";
import { fill } from "../i18n";

export function ChatView({ chats, onNewGroup }: { chats: Chats; onNewGroup: (with_: string[]) => void }) {
  const { t } = usePrefs();
  const [panel, setPanel] = useState(false);
  // The chat record on show; kept here, not in its row, which the
  // virtualised list may drop while the dialog is open.
  const [record, setRecord] = useState<Message | undefined>(undefined);
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
  const group = isGroup && conv !== undefined ? chats.groups.of(conv) : undefined;
  const members = group?.members.value ?? [];
  const requests = isGroup && conv !== undefined ? chats.groups.pendingRequests(conv) : 0;
  const selection = chats.selection.value;
  const selected = selection !== undefined && selection.conv === conv ? selection.seqs : undefined;
  const forwarding = chats.forwarding.value;

  return (
    <section class="chat" aria-label={name} {...dropAndPaste(chats)}>
      <header class="chat-header">
        <button type="button" class="icon back" aria-label={t.back} onClick={() => (chats.open.value = undefined)}>
          <BackIcon />
        </button>
        <Avatar name={name} />
        <div class="chat-title">
          <h2 dir="auto">{name}</h2>
          <p class="typing" aria-live="polite">
            {typists.length > 0
              ? `${typists.join(", ")} ${t.isTyping}`
              : group?.info.value !== undefined
                ? `${group.info.value.members} ${t.membersCount}`
                : ""}
          </p>
        </div>
        <span class="header-actions">
          {isGroup && conv !== undefined ? (
            <button type="button" aria-expanded={panel} onClick={() => setPanel(!panel)}>
              {t.groupInfo}
              {requests > 0 && (
                <span class="badge" aria-label={`${requests} ${t.joinRequests}`}>
                  {requests}
                </span>
              )}
            </button>
          ) : (
            <button type="button" onClick={() => onNewGroup(row?.peer !== undefined ? [row.peer] : [])}>
              {t.newGroupWith}
            </button>
          )}
        </span>
      </header>
      {panel && isGroup && conv !== undefined && (
        <GroupPanel key={conv} chats={chats} conv={conv} onClose={() => setPanel(false)} />
      )}
      <VirtualList<Message>
        key={conv ?? peer}
        label={t.messages}
        items={messages}
        focusKey={chats.focus.value?.conv === conv ? String(chats.focus.value?.seq) : undefined}
        keyOf={keyOfMessage}
        onNearTop={conv !== undefined ? () => void chats.loadOlder(conv) : undefined}
        render={(m) => (
          <MessageItem
            message={m}
            chats={chats}
            isGroup={isGroup}
            peerRead={peerRead}
            readCount={group?.readCounts.value.get(m.seq)}
            selected={selected === undefined ? undefined : selected.has(m.seq)}
            onOpenRecord={setRecord}
          />
        )}
        footer={[
          ...pending.map((entry) => <PendingItem key={entry.cmid} entry={entry} chats={chats} />),
          <PendingUploads key="uploads" chats={chats} />,
        ]}
      />
      {thread?.detached.value === true && conv !== undefined && (
        <button type="button" class="to-latest" onClick={() => void chats.toLatest(conv)}>
          {t.toLatest}
        </button>
      )}
      {chats.problem.value !== undefined && (
        <p class="toast" role="alert">
          {errorText(t, chats.problem.value)}
        </p>
      )}
      {selected !== undefined && conv !== undefined && <SelectionBar chats={chats} conv={conv} seqs={selected} />}
      {isGroup && conv !== undefined && <GroupSendNotice chats={chats} conv={conv} />}
      <Composer
        key={conv ?? peer}
        hidden={selected !== undefined}
        chats={chats}
        members={members.map((m) => m.user).filter((u) => u !== chats.me)}
        draft={row?.draft ?? ""}
        canMentionAll={group?.info.value !== undefined && group.info.value.role !== "member"}
        onSend={(body) => chats.send(conv !== undefined ? { conv } : { peer: peer ?? "" }, body)}
        onType={(text) => {
          if (conv === undefined) return;
          chats.typed(conv, text);
          chats.saveDraft(conv, text);
        }}
        onClose={() => (chats.open.value = undefined)}
      />
      {forwarding !== undefined && (
        <ForwardDialog chats={chats} request={forwarding} onClose={() => (chats.forwarding.value = undefined)} />
      )}
      {record !== undefined && <ChatRecordDialog message={record} onClose={() => setRecord(undefined)} />}
    </section>
  );
}

const keyOfMessage = (m: Message): string => String(m.seq);

const QUICK_REACTIONS = ["👍", "❤️", "😂", "🎉", "😮", "🙏"];

function MessageItem({
  message,
  chats,
  isGroup,
  peerRead,
  readCount,
  selected,
  onOpenRecord,
}: {
  message: Message;
  chats: Chats;
  isGroup: boolean;
  peerRead: number;
  readCount: number | undefined;
  /** In selection mode, whether this message is ticked. */
  selected: boolean | undefined;
  onOpenRecord: (message: Message) => void;
}) {
  const { t, lang } = usePrefs();
  // The menu opens towards the larger space in the list, so it is never
  // cut off by the list's edge.
  const [menu, setMenu] = useState<"up" | "down" | undefined>(undefined);
  const [readers, setReaders] = useState<{ read: string[]; unread: string[] } | undefined>(undefined);
  const me = chats.me;
  const mine = message.from === me;
  const sender = isGroup ? chats.groups.memberName(message.conv, message.from) : message.from;
  if (message.kind === "event") {
    return <p class="event">{describeEvent(message.event, t)}</p>;
  }
  if (message.recalled !== undefined) {
    return (
      <p class="event">{message.recalled.by === me ? t.youRecalled : `${message.recalled.by} ${t.recalledAMessage}`}</p>
    );
  }
  const act = (action: () => void) => {
    setMenu(undefined);
    action();
  };
  return (
    <div
      class={`message${mine ? " mine" : ""}${chats.focus.value?.conv === message.conv && chats.focus.value.seq === message.seq ? " focused" : ""}`}
      data-seq={message.seq}
    >
      {selected !== undefined && isForwardable(message) && (
        <label class="select-box">
          <input type="checkbox" checked={selected} onChange={() => chats.toggleSelected(message.seq)} />
          <span class="visually-hidden">
            {t.selectMessage} {message.from} {shortTime(message.ts, lang)}
          </span>
        </label>
      )}
      {!mine && <Avatar name={sender} hueKey={message.from} size="s" />}
      <div class="bubble">
        {isGroup && !mine && <p class="sender">{sender}</p>}
        {message.forwarded !== undefined && (
          <p class="forwarded-mark" dir="auto">
            <ForwardIcon />
            <span>{fill(t.forwardedFrom, { name: message.forwarded.from })}</span>
          </p>
        )}
        {message.reply !== undefined && (
          <blockquote class="quote" dir="auto">
            <span class="quote-from">{message.reply.from}</span>
            {message.reply.recalled === true ? t.recalledAMessage : message.reply.excerpt}
          </blockquote>
        )}
        {FILE_KINDS.has(message.kind) ? (
          <FileMessage message={message} chats={chats} />
        ) : message.kind === "record" ? (
          <RecordCard message={message} onOpen={onOpenRecord} />
        ) : (
          <p class="body" dir="auto">
            {message.kind === "text" ? <RichText text={message.body} /> : `[${t.kindUnsupported}]`}
          </p>
        )}
        {message.reactions !== undefined && (
          <p class="reactions">
            {message.reactions.map((r) => (
              <button
                type="button"
                key={r.emoji}
                class={`reaction${r.mine === true ? " mine" : ""}`}
                aria-pressed={r.mine === true}
                onClick={() => chats.react(message, r.emoji)}
              >
                {r.emoji} {r.count}
              </button>
            ))}
          </p>
        )}
        <p class="meta">
          {message.edited_ts !== undefined && <span class="edited">{t.edited} · </span>}
          <time dateTime={new Date(message.ts).toISOString()}>{shortTime(message.ts, lang)}</time>
          {mine && isGroup && readCount !== undefined && (
            <button
              type="button"
              class="link read-count"
              aria-expanded={readers !== undefined}
              onClick={() => {
                if (readers !== undefined) setReaders(undefined);
                else void chats.groups.readBy(message.conv, message.seq).then(setReaders, () => undefined);
              }}
            >
              {" "}
              {fill(t.readByN, { n: String(readCount) })}
            </button>
          )}
          {mine && !isGroup && (
            <span class="tick" aria-label={peerRead >= message.seq ? t.read : t.sent}>
              {peerRead >= message.seq ? " ✓✓" : " ✓"}
            </span>
          )}
        </p>
        {readers !== undefined && (
          <div class="readers">
            <p>
              {t.readBy}: {readers.read.join(", ") || "—"}
            </p>
            <p>
              {t.notReadBy}: {readers.unread.join(", ") || "—"}
            </p>
          </div>
        )}
      </div>
      <div class="message-actions" hidden={selected !== undefined}>
        <button
          type="button"
          class="more"
          aria-label={t.messageActions}
          aria-expanded={menu !== undefined}
          onClick={(e) => {
            if (menu !== undefined) {
              setMenu(undefined);
              return;
            }
            const button = e.currentTarget.getBoundingClientRect();
            const list = e.currentTarget.closest(".messages")?.getBoundingClientRect();
            const above = list === undefined ? 0 : button.top - list.top;
            const below = list === undefined ? 0 : list.bottom - button.bottom;
            setMenu(above > below ? "up" : "down");
          }}
        >
          <MoreIcon />
        </button>
        {menu !== undefined && (
          <div class={`menu menu-${menu}`} role="menu">
            <div class="quick-reactions">
              {QUICK_REACTIONS.map((emoji) => (
                <button
                  type="button"
                  role="menuitem"
                  key={emoji}
                  aria-label={`${t.react} ${emoji}`}
                  onClick={() => act(() => chats.react(message, emoji))}
                >
                  {emoji}
                </button>
              ))}
            </div>
            <button
              type="button"
              role="menuitem"
              onClick={() => act(() => (chats.composing.value = { mode: "reply", message }))}
            >
              {t.reply}
            </button>
            {mine && message.kind === "text" && (
              <button
                type="button"
                role="menuitem"
                onClick={() => act(() => (chats.composing.value = { mode: "edit", message }))}
              >
                {t.edit}
              </button>
            )}
            <button
              type="button"
              role="menuitem"
              onClick={() => act(() => chats.openForward(message.conv, [message.seq], false))}
            >
              {t.forward}
            </button>
            <button type="button" role="menuitem" onClick={() => act(() => chats.startSelection(message))}>
              {t.selectMessages}
            </button>
            {(mine || isGroup) && (
              <button type="button" role="menuitem" onClick={() => act(() => chats.recall(message))}>
                {t.recall}
              </button>
            )}
          </div>
        )}
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

/** Selection mode's bar: how many are ticked, the two ways to forward
 * them, and leaving the mode (also with Esc). */
function SelectionBar({ chats, conv, seqs }: { chats: Chats; conv: number; seqs: ReadonlySet<number> }) {
  const { t } = usePrefs();
  // The menu item that started selection mode is gone: focus moves here.
  const primary = useRef<HTMLButtonElement>(null);
  useEffect(() => primary.current?.focus(), []);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape" && chats.forwarding.value === undefined) chats.endSelection();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [chats]);
  const none = seqs.size === 0;
  return (
    <div class="selection-bar" role="toolbar" aria-label={t.selectMessages}>
      <span class="selection-count" aria-live="polite">
        {fill(t.nSelected, { n: String(seqs.size) })}
      </span>
      <button type="button" disabled={none} onClick={() => chats.openForward(conv, seqs, false)}>
        {t.forwardOneByOne}
      </button>
      <button
        ref={primary}
        type="button"
        class="primary"
        disabled={none}
        onClick={() => chats.openForward(conv, seqs, true)}
      >
        {t.forwardAsRecord}
      </button>
      <button type="button" class="link" onClick={() => chats.endSelection()}>
        {t.cancel}
      </button>
    </div>
  );
}

function Composer({
  chats,
  hidden,
  members,
  canMentionAll,
  draft,
  onSend,
  onType,
  onClose,
}: {
  chats: Chats;
  /** Hidden, not removed, in selection mode: the text typed stays. */
  hidden: boolean;
  members: readonly string[];
  canMentionAll: boolean;
  draft: string;
  onSend: (body: string) => void;
  onType: (text: string) => void;
  onClose: () => void;
}) {
  const { t } = usePrefs();
  // The draft saved on any device is where writing resumes.
  const [text, setText] = useState(draft);
  const input = useRef<HTMLTextAreaElement>(null);
  const composing = chats.composing.value;
  useEffect(() => input.current?.focus(), []);
  // Editing starts from the message's text.
  useEffect(() => {
    if (composing?.mode === "edit") setText(composing.message.body);
    if (composing !== undefined) input.current?.focus();
  }, [composing]);
  // @mention completion: the word being typed after an "@".
  const mention = /(?:^|\s)@([^\s@]*)$/u.exec(text)?.[1];
  const suggestions =
    mention === undefined
      ? []
      : [...(canMentionAll ? ["all"] : []), ...members]
          .filter((name) => name.startsWith(mention.toLowerCase()))
          .slice(0, 8);
  const complete = (name: string) => {
    setText(text.replace(/@([^\s@]*)$/u, `@${name} `));
    input.current?.focus();
  };
  const send = useCallback(() => {
    if (text.trim() === "") return;
    askForNotifications();
    onSend(text);
    setText("");
    input.current?.focus();
  }, [text, onSend]);
  return (
    <form
      class="composer"
      hidden={hidden}
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      {composing !== undefined && (
        <div class="composing">
          <span dir="auto">
            {composing.mode === "reply" ? t.replyingTo : t.editing} {composing.message.from}:{" "}
            {[...composing.message.body].slice(0, 60).join("")}
          </span>
          <button
            type="button"
            class="link"
            aria-label={t.cancel}
            onClick={() => {
              if (composing.mode === "edit") setText("");
              chats.composing.value = undefined;
            }}
          >
            <CloseIcon />
          </button>
        </div>
      )}
      {suggestions.length > 0 && (
        <ul class="mentions" aria-label={t.mentionLabel}>
          {suggestions.map((name, i) => (
            <li key={name} class={i === 0 ? "first" : undefined}>
              <button type="button" onClick={() => complete(name)}>
                @{name === "all" ? `all (${t.everyone})` : name}
              </button>
            </li>
          ))}
        </ul>
      )}
      <div class="composer-row">
        <AttachButton chats={chats} />
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
            if ((e.key === "Tab" || e.key === "Enter") && suggestions[0] !== undefined && !e.isComposing) {
              e.preventDefault();
              complete(suggestions[0]);
            } else if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              send();
            } else if (e.key === "Escape") {
              if (composing !== undefined) chats.composing.value = undefined;
              else onClose();
            }
          }}
        />
        <VoiceButton chats={chats} />
        <button type="submit" class="primary" disabled={text.trim() === ""}>
          {t.send}
        </button>
      </div>
    </form>
  );
}

/** Ask once, on the first message sent (a user gesture, as browsers
 * require), whether new messages may be notified while the tab is hidden. */
function askForNotifications(): void {
  if (typeof Notification !== "undefined" && Notification.permission === "default") {
    void Notification.requestPermission().catch(() => undefined);
  }
}
