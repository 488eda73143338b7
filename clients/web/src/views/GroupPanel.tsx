// A group's panel beside its chat: its ID (how others find it to ask to
// join), the announcement, pending join requests (owner and admins), the
// members with their roles, mutes and the actions the reader may take on
// them, inviting, my nickname in the group, the settings (join policy,
// mute-all), the group's files, leaving and dissolving.

import { useState } from "preact/hooks";
import type { Chats } from "../model/chats";
import { parseUsers } from "../model/groups";
import { usePrefs } from "./context";
import { ConfirmStep, Problem, useGroupAction } from "./GroupCommon";
import { GroupFiles } from "./GroupFiles";
import { GroupMembers, roleName } from "./GroupMembers";
import { GroupRequests } from "./GroupRequests";
import { GroupSendNotice } from "./GroupSendNotice";
import { GroupSettings, MyGroupNickname } from "./GroupSettings";
import { CloseIcon } from "./icons";

export function GroupPanel({ chats, conv, onClose }: { chats: Chats; conv: number; onClose: () => void }) {
  const { t } = usePrefs();
  const details = chats.groups.of(conv);
  const info = details.info.value;
  const [invite, setInvite] = useState("");
  const [announcement, setAnnouncement] = useState<string | undefined>(undefined);
  const [dissolving, setDissolving] = useState(false);
  const { problem, act, fail } = useGroupAction(chats, conv);
  const manager = info !== undefined && info.role !== "member";

  return (
    <aside class="group-panel" aria-label={t.groupInfo} onKeyDown={(e) => e.key === "Escape" && onClose()}>
      <header class="panel-header">
        <h3>{t.groupInfo}</h3>
        <button type="button" class="icon" aria-label={t.close} onClick={onClose}>
          <CloseIcon />
        </button>
      </header>
      <Problem text={problem} />
      {info === undefined ? (
        <p class="empty">{t.loading}</p>
      ) : (
        <>
          <p class="group-facts">
            <span>
              {t.groupIdLabel} <span class="group-id">{conv}</span>
            </span>
            <span>
              {t.yourRole}: {roleName(t, info.role)}
            </span>
          </p>
          <GroupSendNotice chats={chats} conv={conv} />
          {info.muted_all && manager && (
            <p class="group-send-notice" role="status">
              {t.everyoneMuted}
            </p>
          )}
          {manager && (info.join_policy === "request" || details.requests.value.length > 0) && (
            <GroupRequests chats={chats} conv={conv} act={act} />
          )}
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
            <GroupMembers chats={chats} conv={conv} myRole={info.role} act={act} />
          </section>
          <MyGroupNickname chats={chats} conv={conv} act={act} />
          {manager && <GroupSettings key={info.join_policy} chats={chats} info={info} act={act} />}
          <GroupFiles chats={chats} conv={conv} manager={manager} onProblem={fail} />
          <section class="panel-actions">
            {info.role === "owner" ? (
              dissolving ? (
                <ConfirmStep
                  question={t.confirmDissolve}
                  confirm={t.dissolveGroup}
                  onConfirm={() => act(chats.groups.dissolve(conv), () => setDissolving(false))}
                  onCancel={() => setDissolving(false)}
                />
              ) : (
                <button type="button" class="danger" onClick={() => setDissolving(true)}>
                  {t.dissolveGroup}
                </button>
              )
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
