// Creating a group: a name and the people to add (usernames typed, or
// friends ticked). Opened from the sidebar, or from a 1:1 chat with its
// peer already in.

import { useEffect, useRef, useState } from "preact/hooks";
import { MagpieError } from "magpie-client";
import type { Chats } from "../model/chats";
import { parseUsers } from "../model/groups";
import { displayName } from "../model/people";
import { usePrefs } from "./context";
import { errorText } from "./SignIn";

export function GroupDialog({ chats, with: initial, onClose }: { chats: Chats; with: string[]; onClose: () => void }) {
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
    <div
      class="overlay"
      role="dialog"
      aria-modal="true"
      aria-labelledby="group-dialog-title"
      onClick={(e) => e.target === e.currentTarget && onClose()}
    >
      <form
        class="card dialog"
        aria-labelledby="group-dialog-title"
        onSubmit={submit}
        onKeyDown={(e) => e.key === "Escape" && onClose()}
      >
        <h2 id="group-dialog-title">{t.newGroup}</h2>
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
        {error !== undefined && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <div class="dialog-buttons">
          <button type="button" class="link" onClick={onClose}>
            {t.cancel}
          </button>
          <button type="submit" class="primary" disabled={busy || name.trim() === ""}>
            {t.create}
          </button>
        </div>
      </form>
    </div>
  );
}
