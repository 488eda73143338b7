// A group's panel beside its chat: the announcement, the members with
// their roles and presence, inviting and removing (for the owner and
// admins), my nickname in the group, leaving and dissolving.

import { useState } from "preact/hooks";
import { MagpieError, type GroupMember } from "magpie-client";
import type { Chats } from "../model/chats";
import { parseUsers } from "../model/groups";
import { usePrefs } from "./context";
import { errorText } from "./SignIn";
import { Avatar } from "./text";

export function GroupPanel({ chats, conv, onClose }: { chats: Chats; conv: number; onClose: () => void }) {
  const { t } = usePrefs();
  const details = chats.groups.of(conv);
  const info = details.info.value;
  const members = details.members.value;
  const [invite, setInvite] = useState("");
  const [announcement, setAnnouncement] = useState<string | undefined>(undefined);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const manager = info !== undefined && info.role !== "member";

  const act = (action: Promise<unknown>) => {
    setProblem(undefined);
    action.then(
      () => void chats.groups.reload(conv),
      (error: unknown) => setProblem(errorText(t, error instanceof MagpieError ? error.code : "internal")),
    );
  };

  const roleName = (m: GroupMember) => (m.role === "owner" ? t.roleOwner : m.role === "admin" ? t.roleAdmin : "");

  return (
    <aside class="group-panel" aria-label={t.groupInfo} onKeyDown={(e) => e.key === "Escape" && onClose()}>
      <header class="panel-header">
        <h3>{t.groupInfo}</h3>
        <button type="button" class="icon" aria-label={t.close} onClick={onClose}>
          ✕
        </button>
      </header>
      {info === undefined ? (
        <p class="empty">{t.loading}</p>
      ) : (
        <>
          <section>
            <h4 class="section-title">{t.announcement}</h4>
            {announcement === undefined ? (
              <>
                <p class="announcement" dir="auto">
                  {info.announcement || t.noAnnouncement}
                </p>
                {manager && (
                  <button type="button" class="link" onClick={() => setAnnouncement(info.announcement)}>
                    {t.edit}
                  </button>
                )}
              </>
            ) : (
              <form
                onSubmit={(e) => {
                  e.preventDefault();
                  act(chats.groups.setAnnouncement(conv, announcement));
                  setAnnouncement(undefined);
                }}
              >
                <label class="visually-hidden" for="announcement">
                  {t.announcement}
                </label>
                <textarea
                  id="announcement"
                  maxLength={1000}
                  value={announcement}
                  onInput={(e) => setAnnouncement(e.currentTarget.value)}
                />
                <button type="submit" class="primary small">
                  {t.save}
                </button>
              </form>
            )}
          </section>
          <section>
            <h4 class="section-title">
              {t.groupMembers} · {info.members}
            </h4>
            {(manager || info.temporary) && (
              <form
                class="add-friend"
                onSubmit={(e) => {
                  e.preventDefault();
                  const users = parseUsers(invite);
                  if (users.length > 0) act(chats.groups.invite(conv, users));
                  setInvite("");
                }}
              >
                <label class="visually-hidden" for="invite-users">
                  {t.inviteLabel}
                </label>
                <input
                  id="invite-users"
                  placeholder={t.inviteLabel}
                  autocomplete="off"
                  value={invite}
                  onInput={(e) => setInvite(e.currentTarget.value)}
                />
                <button type="submit" class="primary small">
                  {t.invite}
                </button>
              </form>
            )}
            <ul class="members">
              {members.map((member) => (
                <li key={member.user_id} class="member">
                  <span class="avatar-wrap">
                    <Avatar name={member.nickname || member.user} size="s" />
                    <span
                      class={`presence-dot${member.status !== "offline" ? " online" : ""}`}
                      role="img"
                      aria-label={member.status !== "offline" ? t.online : t.offline}
                    />
                  </span>
                  <span class="member-name" dir="auto">
                    {member.nickname || member.user}
                  </span>
                  <span class="role">{roleName(member)}</span>
                  {manager && member.user !== chats.me && member.role === "member" && (
                    <button type="button" class="link" onClick={() => act(chats.groups.remove(conv, member.user))}>
                      {t.remove}
                    </button>
                  )}
                </li>
              ))}
            </ul>
          </section>
          {problem !== undefined && (
            <p class="error" role="alert">
              {problem}
            </p>
          )}
          <section class="panel-actions">
            {info.role === "owner" ? (
              <button type="button" class="danger" onClick={() => act(chats.groups.dissolve(conv))}>
                {t.dissolveGroup}
              </button>
            ) : (
              <button type="button" class="danger" onClick={() => act(chats.groups.leave(conv))}>
                {t.leaveGroup}
              </button>
            )}
          </section>
        </>
      )}
    </aside>
  );
}
