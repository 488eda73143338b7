// Someone's profile card: their avatar with presence, names, signature,
// department and title (when opened from the directory), and what can be
// done with them: message them, ask to be friends (with a note), set a
// remark, move them to a category, block or unblock, remove the
// friendship. Opened from a contact row, a search result or a directory
// member. Removing and blocking ask first, in the card itself.

import { useEffect, useRef, useState } from "preact/hooks";
import { MagpieError, type Profile, type UserCard } from "magpie-client";
import type { Chats } from "../model/chats";
import { UserAvatar, useStatusLabel } from "./Avatar";
import { usePrefs } from "./context";
import { genderLabel, useEscape } from "./ProfileDialog";
import { errorText } from "./SignIn";
import { ErrorLine } from "../components/ErrorLine";
import { fill } from "../i18n";

/** Where the card was opened from knows some things the profile lacks. */
export interface CardSubject {
  card: UserCard;
  dept?: string;
  title?: string;
}

type Confirming = "remove" | "block" | undefined;

export function ProfileCard({
  chats,
  subject,
  onClose,
  onOpenChat,
}: {
  chats: Chats;
  subject: CardSubject;
  onClose: () => void;
  onOpenChat: () => void;
}) {
  const { t } = usePrefs();
  const people = chats.people;
  const user = subject.card.user;
  const full: Profile | undefined = people.profiles.value.get(user);
  const profile: Profile | UserCard = full ?? subject.card;
  const friend = people.friendNamed(user);
  const blocked = people.isBlocked(user);
  const status = people.statusOf(subject.card.user_id);
  const statusLabel = useStatusLabel(status);
  const statusText = people.presence.value.get(subject.card.user_id)?.text ?? "";
  const [error, setError] = useState<string | undefined>(undefined);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [confirming, setConfirming] = useState<Confirming>(undefined);
  const close = useRef<HTMLButtonElement>(null);
  useEscape(onClose);

  useEffect(() => {
    close.current?.focus();
    people.profileOf(user).catch((caught: unknown) => fail(caught));
  }, [user]);

  const fail = (caught: unknown) => setError(errorText(t, caught instanceof MagpieError ? caught.code : "internal"));
  const act = (action: Promise<unknown>, done?: string) => {
    setError(undefined);
    setNotice(undefined);
    setConfirming(undefined);
    action.then(() => setNotice(done), fail);
  };

  const name = people.nameOf(subject.card);
  const signature = full?.signature ?? "";
  const gender = full !== undefined && full.gender !== "unspecified" ? genderLabel(t, full.gender) : undefined;
  return (
    <div
      class="overlay"
      role="dialog"
      aria-modal="true"
      aria-labelledby="profile-card-title"
      onClick={(e) => e.target === e.currentTarget && onClose()}
    >
      <div class="card dialog profile-card">
        <div class="profile-head">
          <UserAvatar client={chats.client} card={profile} name={name} status={status} size="l" />
          <div class="profile-head-main">
            <h2 id="profile-card-title" class="profile-name" dir="auto">
              {name}
            </h2>
            <span class="profile-user">@{user}</span>
            <span class="profile-status">
              {statusLabel}
              {statusText !== "" && (
                <>
                  {" · "}
                  <span dir="auto">{statusText}</span>
                </>
              )}
            </span>
          </div>
        </div>
        <dl class="profile-facts">
          {friend !== undefined && friend.remark !== "" && profile.nickname !== "" && (
            <Fact label={t.nickname} value={profile.nickname} />
          )}
          {signature !== "" && <Fact label={t.signature} value={signature} />}
          {subject.dept !== undefined && <Fact label={t.department} value={subject.dept} />}
          {subject.title !== undefined && subject.title !== "" && <Fact label={t.jobTitle} value={subject.title} />}
          {gender !== undefined && <Fact label={t.gender} value={gender} />}
          {full?.phone !== undefined && <Fact label={t.phone} value={full.phone} />}
          {full?.email !== undefined && <Fact label={t.email} value={full.email} />}
        </dl>
        {friend !== undefined && <FriendSettings chats={chats} user={user} act={act} />}
        {friend === undefined && !blocked && <AskFriend chats={chats} user={user} act={act} />}
        <ErrorLine text={error} />
        {notice !== undefined && (
          <p class="notice" role="status">
            {notice}
          </p>
        )}
        {confirming !== undefined ? (
          <div class="confirm" role="group" aria-label={confirming === "remove" ? t.removeFriend : t.block}>
            <p dir="auto">{fill(confirming === "remove" ? t.confirmRemoveFriend : t.confirmBlock, { name })}</p>
            <div class="dialog-buttons">
              <button type="button" class="link" onClick={() => setConfirming(undefined)}>
                {t.cancel}
              </button>
              <button
                type="button"
                class="primary danger"
                onClick={() =>
                  confirming === "remove"
                    ? act(people.remove(user), t.friendRemoved)
                    : act(people.block(user), t.userBlocked)
                }
              >
                {confirming === "remove" ? t.removeFriend : t.block}
              </button>
            </div>
          </div>
        ) : (
          <div class="profile-actions">
            <button
              type="button"
              class="primary"
              onClick={() => {
                chats.startWith(user);
                onOpenChat();
                onClose();
              }}
            >
              {t.sendMessage}
            </button>
            {friend !== undefined && (
              <button type="button" onClick={() => setConfirming("remove")}>
                {t.removeFriend}
              </button>
            )}
            {blocked ? (
              <button type="button" onClick={() => act(people.unblock(user), t.userUnblocked)}>
                {t.unblock}
              </button>
            ) : (
              <button type="button" onClick={() => setConfirming("block")}>
                {t.block}
              </button>
            )}
          </div>
        )}
        <div class="dialog-buttons">
          <button type="button" ref={close} class="link" onClick={onClose}>
            {t.close}
          </button>
        </div>
      </div>
    </div>
  );
}

function Fact({ label, value }: { label: string; value: string }) {
  return (
    <div class="profile-fact">
      <dt>{label}</dt>
      <dd dir="auto">{value}</dd>
    </div>
  );
}

type Act = (action: Promise<unknown>, done?: string) => void;

/** A friend's remark and category: what only the caller keeps of them. */
function FriendSettings({ chats, user, act }: { chats: Chats; user: string; act: Act }) {
  const { t } = usePrefs();
  const people = chats.people;
  const friend = people.friendNamed(user);
  const [remark, setRemark] = useState(friend?.remark ?? "");
  if (friend === undefined) return null;
  return (
    <div class="friend-settings">
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          act(people.setFriend(user, { remark: remark.trim() }), t.remarkSaved);
        }}
      >
        <label for="friend-remark">{t.remark}</label>
        <input
          id="friend-remark"
          maxLength={64}
          dir="auto"
          placeholder={t.remarkHint}
          value={remark}
          onInput={(e) => setRemark(e.currentTarget.value)}
        />
        <button type="submit" class="small">
          {t.save}
        </button>
      </form>
      <div class="inline-form">
        <label for="friend-category">{t.category}</label>
        <select
          id="friend-category"
          value={String(friend.category ?? 0)}
          onChange={(e) => act(people.setFriend(user, { category: Number(e.currentTarget.value) }), t.categoryChanged)}
        >
          <option value="0">{t.noCategory}</option>
          {people.categories.value.map((category) => (
            <option key={category.id} value={String(category.id)}>
              {category.name}
            </option>
          ))}
        </select>
      </div>
    </div>
  );
}

/** Ask to be friends, with a note. */
function AskFriend({ chats, user, act }: { chats: Chats; user: string; act: Act }) {
  const { t } = usePrefs();
  const [note, setNote] = useState("");
  const asked = chats.people.outgoing.value.some((r) => r.to.user === user);
  if (asked) return <p class="notice">{t.friendRequestPending}</p>;
  return (
    <form
      class="inline-form"
      onSubmit={(e) => {
        e.preventDefault();
        act(chats.people.request(user, note.trim()), t.requestSent);
      }}
    >
      <label class="visually-hidden" for="card-note">
        {t.requestNote}
      </label>
      <input
        id="card-note"
        maxLength={200}
        dir="auto"
        placeholder={t.requestNote}
        value={note}
        onInput={(e) => setNote(e.currentTarget.value)}
      />
      <button type="submit" class="primary small">
        {t.addFriendAction}
      </button>
    </form>
  );
}
