// Creating a group, or joining one: a name and the people to add
// (usernames typed, or friends ticked); or a group's ID (shown in its
// info) to look it up and join it, or ask to join with a note. Opened
// from the sidebar, or from a 1:1 chat with its peer already in.

import { useEffect, useRef, useState } from "preact/hooks";
import { MagpieError, type GroupInfo } from "magpie-client";
import type { Chats } from "../model/chats";
import { parseUsers } from "../model/groups";
import { displayName } from "../model/people";
import { usePrefs } from "./context";
import { groupErrorText } from "./GroupCommon";
import { errorText } from "./SignIn";
import { ErrorLine } from "../components/ErrorLine";

export function GroupDialog({ chats, with: initial, onClose }: { chats: Chats; with: string[]; onClose: () => void }) {
  const { t } = usePrefs();
  const [mode, setMode] = useState<"create" | "join">("create");
  return (
    <div
      class="overlay"
      role="dialog"
      aria-modal="true"
      aria-labelledby="group-dialog-title"
      onClick={(e) => e.target === e.currentTarget && onClose()}
      onKeyDown={(e) => e.key === "Escape" && onClose()}
    >
      <div class="card dialog group-dialog">
        <h2 id="group-dialog-title">{mode === "create" ? t.newGroup : t.joinGroupTab}</h2>
        <div class="tabs group-dialog-tabs" role="tablist">
          <button type="button" role="tab" aria-selected={mode === "create"} onClick={() => setMode("create")}>
            {t.createGroupTab}
          </button>
          <button type="button" role="tab" aria-selected={mode === "join"} onClick={() => setMode("join")}>
            {t.joinGroupTab}
          </button>
        </div>
        {mode === "create" ? (
          <CreateGroup chats={chats} initial={initial} onClose={onClose} />
        ) : (
          <JoinGroup chats={chats} onClose={onClose} />
        )}
      </div>
    </div>
  );
}

function CreateGroup({ chats, initial, onClose }: { chats: Chats; initial: string[]; onClose: () => void }) {
  const { t } = usePrefs();
  const [name, setName] = useState("");
  const [typed, setTyped] = useState(initial.join(", "));
  const [ticked, setTicked] = useState<ReadonlySet<string>>(new Set());
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => first.current?.focus(), []);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const members = [...new Set([...parseUsers(typed), ...ticked])].filter((u) => u !== chats.me);
      const info = await chats.groups.create(name, members);
      onClose();
      await chats.openGroup(info.conv);
    } catch (caught) {
      setError(errorText(t, caught instanceof MagpieError ? caught.code : "internal"));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="dialog-form" aria-labelledby="group-dialog-title" onSubmit={submit}>
      <label>
        {t.groupName}
        <input ref={first} required maxLength={64} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <label>
        {t.groupMembers}
        <input
          placeholder={t.groupMembersHint}
          autocomplete="off"
          value={typed}
          onInput={(e) => setTyped(e.currentTarget.value)}
        />
      </label>
      {chats.people.sorted.value.length > 0 && (
        <fieldset class="pick-friends">
          <legend>{t.friends}</legend>
          {chats.people.sorted.value.map((friend) => (
            <label key={friend.user.user_id} class="check">
              <input
                type="checkbox"
                checked={ticked.has(friend.user.user)}
                onChange={(e) => {
                  const next = new Set(ticked);
                  if (e.currentTarget.checked) next.add(friend.user.user);
                  else next.delete(friend.user.user);
                  setTicked(next);
                }}
              />
              <span dir="auto">{displayName(friend)}</span>
            </label>
          ))}
        </fieldset>
      )}
      <ErrorLine text={error} />
      <div class="dialog-buttons">
        <button type="button" class="link" onClick={onClose}>
          {t.cancel}
        </button>
        <button type="submit" class="primary" disabled={busy || name.trim() === ""}>
          {t.create}
        </button>
      </div>
    </form>
  );
}

/** Look a group up by its ID, then join it (open) or ask to (request);
 * the answer to a request arrives through the change stream, and an
 * approved group opens from here or from the list. */
function JoinGroup({ chats, onClose }: { chats: Chats; onClose: () => void }) {
  const { t } = usePrefs();
  const [id, setId] = useState("");
  const [found, setFound] = useState<GroupInfo | undefined>(undefined);
  const [note, setNote] = useState("");
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => first.current?.focus(), []);
  const status = found !== undefined ? chats.groups.myRequests.value.get(found.conv) : undefined;
  const member = found !== undefined && chats.rows.value.has(found.conv);

  const run = async (work: () => Promise<void>, joining: boolean) => {
    setBusy(true);
    setError(undefined);
    try {
      await work();
    } catch (caught) {
      setError(groupErrorText(t, caught, joining));
    } finally {
      setBusy(false);
    }
  };
  const lookUp = (event: Event) => {
    event.preventDefault();
    const conv = Number(id.trim());
    if (!Number.isSafeInteger(conv) || conv <= 0) return;
    setFound(undefined);
    void run(async () => setFound(await chats.groups.lookUp(conv)), false);
  };
  const join = (event: Event) => {
    event.preventDefault();
    if (found === undefined) return;
    void run(async () => {
      const requested = await chats.groups.join(found.conv, note);
      if (!requested) {
        onClose();
        await chats.openGroup(found.conv);
      }
    }, true);
  };
  const open = () => {
    if (found === undefined) return;
    onClose();
    void chats.openGroup(found.conv);
  };

  return (
    <div class="dialog-form join-group">
      <form class="inline-form" aria-labelledby="group-dialog-title" onSubmit={lookUp}>
        <label for="join-group-id">{t.groupIdLabel}</label>
        <input
          id="join-group-id"
          ref={first}
          inputMode="numeric"
          pattern="[0-9]+"
          required
          autocomplete="off"
          value={id}
          onInput={(e) => setId(e.currentTarget.value)}
        />
        <button type="submit" class="primary small" disabled={busy || id.trim() === ""}>
          {t.lookUp}
        </button>
      </form>
      <p class="hint">{t.joinGroupHint}</p>
      {found !== undefined && (
        <div class="found-group">
          <p class="found-group-name" dir="auto">
            {found.name}
          </p>
          <p class="hint">
            {found.members} {t.membersCount}
          </p>
          {found.description !== "" && (
            <p class="found-group-description" dir="auto">
              {found.description}
            </p>
          )}
          {member || status === "approved" ? (
            <>
              {status === "approved" && <p role="status">{t.requestApproved}</p>}
              <button type="button" class="primary" onClick={open}>
                {t.openGroup}
              </button>
            </>
          ) : found.join_policy === "invite" ? (
            <p>{t.inviteOnlyGroup}</p>
          ) : (
            <form onSubmit={join}>
              {found.join_policy === "request" && (
                <label>
                  {t.joinNote}
                  <input
                    maxLength={256}
                    autocomplete="off"
                    value={note}
                    onInput={(e) => setNote(e.currentTarget.value)}
                  />
                </label>
              )}
              {status !== undefined && (
                <p class={status === "pending" ? "notice" : "error"} role="status">
                  {status === "pending"
                    ? t.requestPending
                    : status === "rejected"
                      ? t.requestRejected
                      : t.requestDropped}
                </p>
              )}
              <button type="submit" class="primary" disabled={busy}>
                {found.join_policy === "open" ? t.joinNow : t.askToJoin}
              </button>
            </form>
          )}
        </div>
      )}
      <ErrorLine text={error} />
      <div class="dialog-buttons">
        <button type="button" class="link" onClick={onClose}>
          {t.close}
        </button>
      </div>
    </div>
  );
}
