// A group's members as its panel lists them: each with their group
// nickname (else nickname), username, role badge, presence and mute; and
// the actions the reader's role allows on them (PROTOCOL.md 9.7): the
// owner appoints and demotes admins, mutes, removes and hands over the
// group; an admin mutes and removes plain members. The server decides;
// a refusal is shown.

import { useState } from "preact/hooks";
import type { GroupMember, GroupRole } from "magpie-client";
import type { Chats } from "../model/chats";
import type { Dictionary } from "../i18n";
import { usePrefs } from "./context";
import { ConfirmStep, untilText } from "./GroupCommon";
import { Avatar } from "./text";
import { fill } from "../i18n";

const RANK: Record<GroupRole, number> = { member: 0, admin: 1, owner: 2 };

/** The mute lengths offered, in seconds; 30 days is the most a mute may
 * last (group_mute). */
const MUTE_CHOICES: readonly { seconds: number; label: (t: Dictionary) => string }[] = [
  { seconds: 600, label: (t) => t.mute10m },
  { seconds: 3600, label: (t) => t.mute1h },
  { seconds: 86_400, label: (t) => t.mute1d },
  { seconds: 2_592_000, label: (t) => t.mute30d },
];

export function roleName(t: Dictionary, role: GroupRole): string {
  return role === "owner" ? t.roleOwner : role === "admin" ? t.roleAdmin : t.roleMember;
}

/** Owner first, then admins, then members, each in the order they came. */
function byRole(members: readonly GroupMember[]): GroupMember[] {
  return [...members].sort((a, b) => RANK[b.role] - RANK[a.role] || a.user_id - b.user_id);
}

export function GroupMembers({
  chats,
  conv,
  myRole,
  act,
}: {
  chats: Chats;
  conv: number;
  myRole: GroupRole;
  act: (action: Promise<unknown>, done?: () => void) => void;
}) {
  const members = chats.groups.of(conv).members.value;
  return (
    <ul class="members">
      {byRole(members).map((member) => (
        <MemberRow key={member.user_id} chats={chats} conv={conv} member={member} myRole={myRole} act={act} />
      ))}
    </ul>
  );
}

function MemberRow({
  chats,
  conv,
  member,
  myRole,
  act,
}: {
  chats: Chats;
  conv: number;
  member: GroupMember;
  myRole: GroupRole;
  act: (action: Promise<unknown>, done?: () => void) => void;
}) {
  const { t, lang } = usePrefs();
  const [step, setStep] = useState<"mute" | "transfer" | undefined>(undefined);
  const [seconds, setSeconds] = useState(600);
  const groups = chats.groups;
  const details = groups.of(conv);
  const name = groups.memberName(conv, member.user);
  const self = member.user === chats.me;
  // The owner acts on anyone else; an admin on plain members only.
  const manages = !self && RANK[myRole] >= RANK.admin && RANK[member.role] < RANK[myRole];
  const owns = !self && myRole === "owner";
  const muted = details.isMuted(member);
  const online = member.status !== "offline";
  const toggle = (next: "mute" | "transfer") => setStep(step === next ? undefined : next);

  return (
    <li class="member" data-user={member.user}>
      <span class="avatar-wrap">
        <Avatar name={name} size="s" />
        <span class={`presence-dot${online ? " online" : ""}`} role="img" aria-label={online ? t.online : t.offline} />
      </span>
      <span class="member-names">
        <span class="member-name" dir="auto">
          {name}
        </span>
        {name !== member.user && <span class="member-user">@{member.user}</span>}
      </span>
      {member.role !== "member" && (
        <span class={`role role-badge role-${member.role}`}>{roleName(t, member.role)}</span>
      )}
      {muted && (
        <span class="muted-badge">{fill(t.mutedUntil, { time: untilText(member.muted_until ?? 0, lang) })}</span>
      )}
      {(manages || owns) && (
        <div class="member-actions">
          {owns && (
            <button
              type="button"
              class="link"
              onClick={() => act(groups.setRole(conv, member.user, member.role === "admin" ? "member" : "admin"))}
            >
              {member.role === "admin" ? t.demoteAdmin : t.makeAdmin}
            </button>
          )}
          {manages &&
            (muted ? (
              <button type="button" class="link" onClick={() => act(groups.mute(conv, member.user, 0))}>
                {t.unmuteMember}
              </button>
            ) : (
              <button type="button" class="link" aria-expanded={step === "mute"} onClick={() => toggle("mute")}>
                {t.muteMember}
              </button>
            ))}
          {manages && (
            <button type="button" class="link" onClick={() => act(groups.remove(conv, member.user))}>
              {t.remove}
            </button>
          )}
          {owns && (
            <button type="button" class="link" aria-expanded={step === "transfer"} onClick={() => toggle("transfer")}>
              {t.makeOwner}
            </button>
          )}
        </div>
      )}
      {step === "mute" && !muted && (
        <form
          class="mute-step"
          onSubmit={(e) => {
            e.preventDefault();
            act(groups.mute(conv, member.user, seconds), () => setStep(undefined));
          }}
          onKeyDown={(e) => {
            if (e.key !== "Escape") return;
            e.stopPropagation();
            setStep(undefined);
          }}
        >
          <label>
            {t.muteFor}
            <select value={seconds} onChange={(e) => setSeconds(Number(e.currentTarget.value))}>
              {MUTE_CHOICES.map((choice) => (
                <option key={choice.seconds} value={choice.seconds}>
                  {choice.label(t)}
                </option>
              ))}
            </select>
          </label>
          <button type="button" class="link" onClick={() => setStep(undefined)}>
            {t.cancel}
          </button>
          <button type="submit" class="primary small">
            {t.confirmAction}
          </button>
        </form>
      )}
      {step === "transfer" && (
        <ConfirmStep
          question={fill(t.confirmTransfer, { user: name })}
          confirm={t.transferOwnership}
          onConfirm={() => act(groups.transfer(conv, member.user), () => setStep(undefined))}
          onCancel={() => setStep(undefined)}
        />
      )}
    </li>
  );
}
