// Contacts: add a friend by username with a note, answer requests, see
// the ones sent, find people, and the friends grouped by category (with
// their presence and remarks; categories made, renamed and deleted here),
// and the blocklist. A friend's row opens the chat with them; its (i) button, a
// search result or a blocked user opens their profile card.

import { useId, useState } from "preact/hooks";
import { MagpieError, type PendingRequest, type UserCard } from "magpie-client";
import type { Chats } from "../model/chats";
import { displayName, type FriendGroup } from "../model/people";
import { UserAvatar } from "./Avatar";
import { usePrefs } from "./context";
import { ProfileCard, type CardSubject } from "./ProfileCard";
import { errorText } from "./SignIn";
import { ErrorLine } from "../components/ErrorLine";
import { fill } from "../i18n";

export function Contacts({ chats, onOpenChat }: { chats: Chats; onOpenChat: () => void }) {
  const { t } = usePrefs();
  const people = chats.people;
  const [user, setUser] = useState("");
  const [note, setNote] = useState("");
  const [status, setStatus] = useState<string | undefined>(undefined);
  const [shown, setShown] = useState<CardSubject | undefined>(undefined);

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
        <UserAvatar client={chats.client} card={other} size="s" />
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
      <PeopleSearch chats={chats} onPick={(card) => setShown({ card })} />
      <Categories chats={chats} onProfile={(card) => setShown({ card })} onOpenChat={onOpenChat} />
      <Blocklist chats={chats} onProfile={(card) => setShown({ card })} />
      {shown !== undefined && (
        <ProfileCard chats={chats} subject={shown} onClose={() => setShown(undefined)} onOpenChat={onOpenChat} />
      )}
    </div>
  );
}

/** Find people by username, nickname, phone or email; a result opens
 * their card, where they can be asked to be friends with a note. */
function PeopleSearch({ chats, onPick }: { chats: Chats; onPick: (card: UserCard) => void }) {
  const { t } = usePrefs();
  const [query, setQuery] = useState("");
  const [found, setFound] = useState<readonly UserCard[] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  return (
    <section class="people-search">
      <form
        class="inline-form"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          if (query.trim() === "") return;
          setError(undefined);
          chats.people.search(query).then(setFound, (caught: unknown) => {
            setFound(undefined);
            setError(errorText(t, caught instanceof MagpieError ? caught.code : "internal"));
          });
        }}
      >
        <label class="visually-hidden" for="people-query">
          {t.findPeople}
        </label>
        <input
          id="people-query"
          type="search"
          placeholder={t.findPeopleHint}
          autocomplete="off"
          value={query}
          onInput={(e) => setQuery(e.currentTarget.value)}
        />
        <button type="submit" class="small">
          {t.find}
        </button>
        {found !== undefined && (
          <button type="button" class="link" onClick={() => setFound(undefined)}>
            {t.clear}
          </button>
        )}
      </form>
      <ErrorLine text={error} />
      {found !== undefined &&
        (found.length === 0 ? (
          <p class="empty">{t.noPeopleFound}</p>
        ) : (
          <ul class="people-list">
            {found.map((card) => (
              <li key={card.user_id}>
                <PersonRow chats={chats} card={card} onClick={() => onPick(card)} />
              </li>
            ))}
          </ul>
        ))}
    </section>
  );
}

/** A user as a row that opens their card. */
function PersonRow({
  chats,
  card,
  detail,
  onClick,
}: {
  chats: Chats;
  card: UserCard;
  detail?: string;
  onClick: () => void;
}) {
  const name = chats.people.nameOf(card);
  return (
    <button type="button" class="person-row" onClick={onClick}>
      <UserAvatar client={chats.client} card={card} name={name} size="s" />
      <span class="chat-row-main">
        <span class="person-name" dir="auto">
          {name}
        </span>
        <span class="chat-excerpt" dir="auto">
          {detail ?? card.user}
        </span>
      </span>
    </button>
  );
}

/** The friends under their categories, each heading collapsible, and the
 * categories' own management. */
function Categories({
  chats,
  onProfile,
  onOpenChat,
}: {
  chats: Chats;
  onProfile: (card: UserCard) => void;
  onOpenChat: () => void;
}) {
  const { t } = usePrefs();
  const people = chats.people;
  const [collapsed, setCollapsed] = useState<ReadonlySet<number>>(new Set());
  const [adding, setAdding] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const fail = (caught: unknown) => setError(errorText(t, caught instanceof MagpieError ? caught.code : "internal"));
  const toggle = (key: number) => {
    const next = new Set(collapsed);
    if (!next.delete(key)) next.add(key);
    setCollapsed(next);
  };
  const groups = people.grouped.value;
  return (
    <section aria-label={t.friends} class="friend-groups">
      <div class="section-head">
        <h3 class="section-title">{t.friends}</h3>
        {!adding && (
          <button type="button" class="link small-text" onClick={() => setAdding(true)}>
            {t.newCategory}
          </button>
        )}
      </div>
      {adding && (
        <NameForm
          label={t.categoryName}
          submit={t.create}
          initial=""
          onCancel={() => setAdding(false)}
          onSave={(name) => {
            setError(undefined);
            people.createCategory(name).then(() => setAdding(false), fail);
          }}
        />
      )}
      <ErrorLine text={error} />
      {people.friends.value.size === 0 && people.categories.value.length === 0 ? (
        <p class="empty">{t.noFriends}</p>
      ) : (
        groups.map((group) => {
          const key = group.category?.id ?? 0;
          // The default heading only when there is something under it or
          // categories exist to tell it from.
          if (group.category === undefined && group.friends.length === 0) return null;
          return (
            <Group
              key={key}
              chats={chats}
              group={group}
              open={!collapsed.has(key)}
              onToggle={() => toggle(key)}
              onProfile={onProfile}
              onOpenChat={onOpenChat}
              onError={fail}
            />
          );
        })
      )}
    </section>
  );
}

function Group({
  chats,
  group,
  open,
  onToggle,
  onProfile,
  onOpenChat,
  onError,
}: {
  chats: Chats;
  group: FriendGroup;
  open: boolean;
  onToggle: () => void;
  onProfile: (card: UserCard) => void;
  onOpenChat: () => void;
  onError: (caught: unknown) => void;
}) {
  const { t } = usePrefs();
  const people = chats.people;
  const [mode, setMode] = useState<"rename" | "delete" | undefined>(undefined);
  const category = group.category;
  const title = category?.name ?? t.defaultCategory;
  const online = group.friends.filter((f) => people.isOnline(f.user.user_id)).length;
  const listId = `category-${category?.id ?? 0}`;
  return (
    <div class="friend-group" data-category={category?.id ?? 0}>
      {mode === "rename" && category !== undefined ? (
        <NameForm
          label={t.categoryName}
          submit={t.save}
          initial={category.name}
          onCancel={() => setMode(undefined)}
          onSave={(name) => people.renameCategory(category.id, name).then(() => setMode(undefined), onError)}
        />
      ) : (
        <div class="group-head">
          <button type="button" class="group-toggle" aria-expanded={open} aria-controls={listId} onClick={onToggle}>
            <span class="caret" aria-hidden="true">
              {open ? "▾" : "▸"}
            </span>
            <span class="group-name" dir="auto">
              {title}
            </span>
            <span class="group-count">
              {online}/{group.friends.length}
            </span>
          </button>
          {category !== undefined && (
            <>
              <button
                type="button"
                class="link small-text"
                aria-label={`${t.rename}: ${category.name}`}
                onClick={() => setMode("rename")}
              >
                {t.rename}
              </button>
              <button
                type="button"
                class="link small-text"
                aria-label={`${t.delete}: ${category.name}`}
                onClick={() => setMode("delete")}
              >
                {t.delete}
              </button>
            </>
          )}
        </div>
      )}
      {mode === "delete" && category !== undefined && (
        <div class="confirm" role="group" aria-label={t.deleteCategory}>
          <p dir="auto">{fill(t.confirmDeleteCategory, { name: category.name })}</p>
          <div class="dialog-buttons">
            <button type="button" class="link" onClick={() => setMode(undefined)}>
              {t.cancel}
            </button>
            <button
              type="button"
              class="primary small danger"
              onClick={() => people.deleteCategory(category.id).then(() => setMode(undefined), onError)}
            >
              {t.deleteCategory}
            </button>
          </div>
        </div>
      )}
      {open &&
        (group.friends.length === 0 ? (
          <p class="empty small-text" id={listId}>
            {t.emptyCategory}
          </p>
        ) : (
          <ul class="chat-list" id={listId}>
            {group.friends.map((friend) => {
              const name = displayName(friend);
              return (
                <li key={friend.user.user_id} class="friend-item">
                  <button
                    type="button"
                    class="chat-row"
                    onClick={() => {
                      chats.startWith(friend.user.user);
                      onOpenChat();
                    }}
                  >
                    <UserAvatar
                      client={chats.client}
                      card={friend.user}
                      name={name}
                      status={people.statusOf(friend.user.user_id)}
                    />
                    <span class="chat-row-main">
                      <span class="chat-name" dir="auto">
                        {name}
                      </span>
                      <span class="chat-excerpt" dir="auto">
                        {friend.remark !== "" && friend.user.nickname !== ""
                          ? `${friend.user.nickname} · ${friend.user.user}`
                          : friend.user.user}
                      </span>
                    </span>
                  </button>
                  <button
                    type="button"
                    class="more row-more profile-open"
                    aria-label={`${t.profileOf}: ${name}`}
                    onClick={() => onProfile(friend.user)}
                  >
                    <span class="info-mark" aria-hidden="true">
                      i
                    </span>
                  </button>
                </li>
              );
            })}
          </ul>
        ))}
    </div>
  );
}

/** A one-line name form (a category's), with Esc to cancel. */
function NameForm({
  label,
  submit,
  initial,
  onCancel,
  onSave,
}: {
  label: string;
  submit: string;
  initial: string;
  onCancel: () => void;
  onSave: (name: string) => void;
}) {
  const { t } = usePrefs();
  const [name, setName] = useState(initial);
  // The new-category and rename forms can be open at once: ids of their own.
  const id = useId();
  return (
    <form
      class="inline-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (name.trim() !== "") onSave(name);
      }}
      onKeyDown={(e) => e.key === "Escape" && onCancel()}
    >
      <label class="visually-hidden" for={id}>
        {label}
      </label>
      <input
        id={id}
        maxLength={32}
        dir="auto"
        placeholder={label}
        autoFocus
        value={name}
        onInput={(e) => setName(e.currentTarget.value)}
      />
      <button type="submit" class="primary small" disabled={name.trim() === ""}>
        {submit}
      </button>
      <button type="button" class="link" onClick={onCancel}>
        {t.cancel}
      </button>
    </form>
  );
}

/** Whom the caller has blocked; each can be unblocked here. */
function Blocklist({ chats, onProfile }: { chats: Chats; onProfile: (card: UserCard) => void }) {
  const { t } = usePrefs();
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const blocked = [...chats.people.blocked.value.values()];
  if (blocked.length === 0) return null;
  return (
    <section aria-label={t.blocklist} class="blocklist">
      <button type="button" class="group-toggle" aria-expanded={open} onClick={() => setOpen(!open)}>
        <span class="caret" aria-hidden="true">
          {open ? "▾" : "▸"}
        </span>
        <span class="group-name">{t.blocklist}</span>
        <span class="group-count">{blocked.length}</span>
      </button>
      <ErrorLine text={error} />
      {open && (
        <ul class="people-list">
          {blocked.map((card) => (
            <li key={card.user_id} class="blocked-item">
              <PersonRow chats={chats} card={card} onClick={() => onProfile(card)} />
              <button
                type="button"
                class="small"
                aria-label={`${t.unblock}: ${card.nickname || card.user}`}
                onClick={() =>
                  void chats.people
                    .unblock(card.user)
                    .catch((caught: unknown) =>
                      setError(errorText(t, caught instanceof MagpieError ? caught.code : "internal")),
                    )
                }
              >
                {t.unblock}
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
