// My profile: the nickname and the other fields of `profile_set`, a new
// avatar (uploaded, then made the avatar with `avatar_set`), and how my
// contacts see me (`presence_set`: online, away, busy or invisible, with
// a short text). Opened from my name in the sidebar's header.

import { useEffect, useRef, useState } from "preact/hooks";
import { MagpieError, type Gender, type PresenceSet, type Profile, type ProfileSet } from "magpie-client";
import type { Chats } from "../model/chats";
import { UserAvatar, useStatusLabel } from "./Avatar";
import { usePrefs } from "./context";
import { errorText } from "./SignIn";
import { ErrorLine } from "../components/ErrorLine";

const GENDERS: readonly Gender[] = ["unspecified", "male", "female", "other"];
const STATUSES: readonly PresenceSet["status"][] = ["online", "away", "busy", "invisible"];
const TEXT_FIELDS = ["nickname", "signature", "birthday", "phone", "email"] as const;
type Fields = Record<(typeof TEXT_FIELDS)[number], string> & { gender: Gender };

function fieldsOf(profile: Profile | undefined): Fields {
  return {
    nickname: profile?.nickname ?? "",
    signature: profile?.signature ?? "",
    birthday: profile?.birthday ?? "",
    phone: profile?.phone ?? "",
    email: profile?.email ?? "",
    gender: profile?.gender ?? "unspecified",
  };
}

/** Only what changed, so an unchanged form stores nothing. */
function changedFields(before: Fields, after: Fields): ProfileSet {
  const change: ProfileSet = {};
  for (const key of TEXT_FIELDS) if (before[key] !== after[key]) change[key] = after[key].trim();
  if (before.gender !== after.gender) change.gender = after.gender;
  return change;
}

export function ProfileDialog({ chats, onClose }: { chats: Chats; onClose: () => void }) {
  const { t } = usePrefs();
  const people = chats.people;
  const mine = people.mine.value;
  // What the form started from: a save sends only what the reader changed
  // from it, never a field that moved on meanwhile (another device) or had
  // not loaded yet when the dialog opened.
  const [start, setStart] = useState<Fields>(() => fieldsOf(mine));
  const [fields, setFields] = useState<Fields>(start);
  const [statusText, setStatusText] = useState(people.myStatus.value?.text ?? "");
  const [error, setError] = useState<string | undefined>(undefined);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [picked, setPicked] = useState<PresenceSet["status"] | undefined>(undefined);
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => first.current?.focus(), []);
  useEscape(onClose);

  const fail = (caught: unknown) => setError(errorText(t, caught instanceof MagpieError ? caught.code : "internal"));
  const run = async (action: () => Promise<unknown>, done: string) => {
    setBusy(true);
    setError(undefined);
    setNotice(undefined);
    try {
      await action();
      setNotice(done);
    } catch (caught) {
      fail(caught);
    } finally {
      setBusy(false);
    }
  };

  const save = (event: Event) => {
    event.preventDefault();
    const change = changedFields(start, fields);
    const statusNow = people.myStatus.value;
    void run(async () => {
      if (Object.keys(change).length > 0) {
        const saved = fieldsOf(await people.saveProfile(change));
        setStart(saved);
        setFields(saved);
      }
      if (statusText !== (statusNow?.text ?? ""))
        await people.setStatus({ status: chosenStatus(statusNow?.status), text: statusText.trim() });
    }, t.profileSaved);
  };

  const field = (
    key: (typeof TEXT_FIELDS)[number],
    label: string,
    mode: "text" | "tel" | "email" = "text",
    max = 64,
  ) => (
    <label>
      {label}
      <input
        ref={key === "nickname" ? first : undefined}
        inputMode={mode}
        maxLength={max}
        value={fields[key]}
        dir="auto"
        onInput={(e) => setFields({ ...fields, [key]: e.currentTarget.value })}
      />
    </label>
  );

  // The pick shows at once; the server's answer (or push) confirms it.
  const current = picked ?? chosenStatus(people.myStatus.value?.status);
  return (
    <div
      class="overlay"
      role="dialog"
      aria-modal="true"
      aria-labelledby="profile-dialog-title"
      onClick={(e) => e.target === e.currentTarget && onClose()}
    >
      <form class="card dialog profile-dialog" onSubmit={save}>
        <h2 id="profile-dialog-title">{t.myProfile}</h2>
        <div class="profile-head">
          <UserAvatar
            client={chats.client}
            card={mine ?? { user: chats.me, nickname: "", avatar: "" }}
            status={people.myStatus.value?.status}
            size="l"
          />
          <div class="profile-head-main">
            <span class="profile-name" dir="auto">
              {mine?.nickname || chats.me}
            </span>
            <span class="profile-user">@{chats.me}</span>
            <label class="button-like">
              {t.changeAvatar}
              <input
                type="file"
                class="visually-hidden"
                accept="image/png,image/jpeg,image/gif,image/webp"
                disabled={busy}
                onChange={(e) => {
                  const file = e.currentTarget.files?.[0];
                  e.currentTarget.value = "";
                  if (file !== undefined) void run(() => people.setAvatar(file, file.name), t.avatarChanged);
                }}
              />
            </label>
          </div>
        </div>
        <fieldset class="status-choice">
          <legend>{t.myStatus}</legend>
          <div class="status-options">
            {STATUSES.map((status) => (
              <StatusOption
                key={status}
                status={status}
                checked={current === status}
                onPick={() => {
                  setPicked(status);
                  void run(() => people.setStatus({ status }), t.statusChanged).then(() => setPicked(undefined));
                }}
              />
            ))}
          </div>
          <label>
            {t.statusText}
            <input maxLength={64} value={statusText} dir="auto" onInput={(e) => setStatusText(e.currentTarget.value)} />
          </label>
        </fieldset>
        {field("nickname", t.nickname)}
        {field("signature", t.signature, "text", 256)}
        <label>
          {t.gender}
          <select
            value={fields.gender}
            onChange={(e) => setFields({ ...fields, gender: e.currentTarget.value as Gender })}
          >
            {GENDERS.map((gender) => (
              <option key={gender} value={gender}>
                {genderLabel(t, gender)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t.birthday}
          <input
            type="date"
            min="1900-01-01"
            value={fields.birthday}
            onInput={(e) => setFields({ ...fields, birthday: e.currentTarget.value })}
          />
        </label>
        {field("phone", t.phone, "tel", 21)}
        {field("email", t.email, "email", 254)}
        <ErrorLine text={error} />
        {notice !== undefined && (
          <p class="notice" role="status">
            {notice}
          </p>
        )}
        <div class="dialog-buttons">
          <button type="button" class="link" onClick={onClose}>
            {t.close}
          </button>
          <button type="submit" class="primary" disabled={busy}>
            {t.save}
          </button>
        </div>
      </form>
    </div>
  );
}

/** The status to keep when only the text changes: the one last chosen,
 * `online` when this device never saw one. */
function chosenStatus(status: string | undefined): PresenceSet["status"] {
  return STATUSES.find((s) => s === status) ?? "online";
}

function StatusOption({
  status,
  checked,
  onPick,
}: {
  status: PresenceSet["status"];
  checked: boolean;
  onPick: () => void;
}) {
  const label = useStatusLabel(status);
  return (
    <label class="check status-option">
      <input type="radio" name="my-status" value={status} checked={checked} onChange={onPick} />
      <span class={`presence-dot inline status-${status}`} aria-hidden="true" />
      {label}
    </label>
  );
}

export function genderLabel(t: ReturnType<typeof usePrefs>["t"], gender: Gender): string {
  const labels: Record<Gender, string> = {
    unspecified: t.genderUnspecified,
    male: t.genderMale,
    female: t.genderFemale,
    other: t.genderOther,
  };
  return labels[gender];
}

/** Esc closes the dialog wherever the focus is (a control that became
 * disabled while busy leaves it on the page's body). */
export function useEscape(onClose: () => void): void {
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") onClose();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [onClose]);
}
