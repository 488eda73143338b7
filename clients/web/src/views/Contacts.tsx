// Contacts: add a friend by username with a note, answer requests, see
// the ones sent, and the friends with their presence; a friend opens the
// chat with them.

import { useState } from "preact/hooks";
import { MagpieError, type PendingRequest } from "magpie-client";
import type { Chats } from "../model/chats";
import { displayName } from "../model/people";
import { usePrefs } from "./context";
import { errorText } from "./SignIn";
import { Avatar } from "./text";

export function Contacts({ chats, onOpenChat }: { chats: Chats; onOpenChat: () => void }) {
  const { t } = usePrefs();
  const people = chats.people;
  const [user, setUser] = useState("");
  const [note, setNote] = useState("");
  const [status, setStatus] = useState<string | undefined>(undefined);

  const act = (action: Promise<unknown>, done?: string) => {
    action.then(
      () => setStatus(done),
      (error: unknown) => setStatus(errorText(t, error instanceof MagpieError ? error.code : "internal")),
    );
  };

  const requestRow = (request: PendingRequest, incoming: boolean) => {
    const other = incoming ? request.from : request.to;
    return (
      <li key={`${request.from.user_id}-${request.to.user_id}`} class="request">
        <Avatar name={other.nickname || other.user} size="s" />
        <span class="request-main">
          <span class="chat-name" dir="auto">
            {other.nickname || other.user}
          </span>
          {request.note !== "" && (
            <span class="chat-excerpt" dir="auto">
              {request.note}
            </span>
          )}
        </span>
        {incoming ? (
          <>
            <button type="button" class="primary small" onClick={() => act(people.accept(other.user))}>
              {t.accept}
            </button>
            <button type="button" class="link" onClick={() => act(people.reject(other.user))}>
              {t.reject}
            </button>
          </>
        ) : (
          <button type="button" class="link" onClick={() => act(people.cancel(other.user))}>
            {t.cancel}
          </button>
        )}
      </li>
    );
  };

  return (
    <div class="contacts">
      <form
        class="add-friend"
        onSubmit={(e) => {
          e.preventDefault();
          if (user.trim() === "") return;
          act(people.request(user, note), t.requestSent);
          setUser("");
          setNote("");
        }}
      >
        <label class="visually-hidden" for="friend-user">
          {t.addFriendLabel}
        </label>
        <input
          id="friend-user"
          placeholder={t.addFriendLabel}
          autocomplete="off"
          value={user}
          onInput={(e) => setUser(e.currentTarget.value)}
        />
        <label class="visually-hidden" for="friend-note">
          {t.requestNote}
        </label>
        <input
          id="friend-note"
          placeholder={t.requestNote}
          maxLength={200}
          value={note}
          onInput={(e) => setNote(e.currentTarget.value)}
        />
        <button type="submit" class="primary small">
          {t.addFriend}
        </button>
      </form>
      {status !== undefined && (
        <p class="notice" role="status">
          {status}
        </p>
      )}
      {people.incoming.value.length > 0 && (
        <section aria-label={t.incomingRequests}>
          <h3 class="section-title">{t.incomingRequests}</h3>
          <ul class="requests">{people.incoming.value.map((r) => requestRow(r, true))}</ul>
        </section>
      )}
      {people.outgoing.value.length > 0 && (
        <section aria-label={t.outgoingRequests}>
          <h3 class="section-title">{t.outgoingRequests}</h3>
          <ul class="requests">{people.outgoing.value.map((r) => requestRow(r, false))}</ul>
        </section>
      )}
      <section aria-label={t.friends}>
        <h3 class="section-title">{t.friends}</h3>
        {people.sorted.value.length === 0 ? (
          <p class="empty">{t.noFriends}</p>
        ) : (
          <ul class="chat-list">
            {people.sorted.value.map((friend) => {
              const online = people.isOnline(friend.user.user_id);
              const name = displayName(friend);
              return (
                <li key={friend.user.user_id}>
                  <button
                    type="button"
                    class="chat-row"
                    onClick={() => {
                      chats.startWith(friend.user.user);
                      onOpenChat();
                    }}
                  >
                    <span class="avatar-wrap">
                      <Avatar name={name} />
                      <span
                        class={`presence-dot${online ? " online" : ""}`}
                        aria-label={online ? t.online : t.offline}
                        role="img"
                      />
                    </span>
                    <span class="chat-row-main">
                      <span class="chat-name" dir="auto">
                        {name}
                      </span>
                      <span class="chat-excerpt">{friend.user.user}</span>
                    </span>
                  </button>
                </li>
              );
            })}
          </ul>
        )}
      </section>
    </div>
  );
}
