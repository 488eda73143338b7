// The company directory tab: the department tree, each department opened
// to show its members (a page at a time) with their titles and presence;
// a member opens their profile card.

import { useState } from "preact/hooks";
import type { Department, DeptMember } from "magpie-client";
import type { Chats } from "../model/chats";
import { directoryOf, type Directory as Model } from "../model/directory";
import { UserAvatar } from "./Avatar";
import { usePrefs } from "./context";
import { ProfileCard, type CardSubject } from "./ProfileCard";
import { errorText } from "./SignIn";

export function Directory({ chats, onOpenChat }: { chats: Chats; onOpenChat: () => void }) {
  const { t } = usePrefs();
  const model = directoryOf(chats);
  const [shown, setShown] = useState<CardSubject | undefined>(undefined);
  const departments = model.departments.value;
  const error = model.error.value;
  return (
    <div class="directory">
      {error !== undefined && (
        <p class="error" role="alert">
          {errorText(t, error)}
        </p>
      )}
      {departments === undefined ? (
        error === undefined && <p class="empty">{t.loading}</p>
      ) : departments.length === 0 ? (
        <p class="empty">{t.noDepartments}</p>
      ) : (
        // Plain nested lists of disclosure buttons: a tree's arrow-key
        // navigation would be needed for role="tree".
        <ul class="dept-tree" aria-label={t.directory}>
          {children(departments, undefined).map((dept) => (
            <DeptNode
              key={dept.id}
              chats={chats}
              model={model}
              dept={dept}
              all={departments}
              depth={0}
              onMemberOf={(member, d) => setShown({ card: member.user, dept: d.name, title: member.title })}
            />
          ))}
        </ul>
      )}
      {shown !== undefined && (
        <ProfileCard chats={chats} subject={shown} onClose={() => setShown(undefined)} onOpenChat={onOpenChat} />
      )}
    </div>
  );
}

/** The sub-departments of `parent` (top level for undefined), in the
 * order the server gave (siblings by `order`, then id). */
function children(all: readonly Department[], parent: number | undefined): Department[] {
  return all.filter((d) => d.parent === parent);
}

function DeptNode({
  chats,
  model,
  dept,
  all,
  depth,
  onMemberOf,
}: {
  chats: Chats;
  model: Model;
  dept: Department;
  all: readonly Department[];
  depth: number;
  onMemberOf: (member: DeptMember, dept: Department) => void;
}) {
  const { t } = usePrefs();
  const open = model.open.value.has(dept.id);
  const subs = children(all, dept.id);
  const page = model.pages.value.get(dept.id);
  const groupId = `dept-${dept.id}`;
  return (
    <li class="dept" data-dept={dept.id}>
      <button
        type="button"
        class={`dept-toggle depth-${Math.min(depth, 6)}`}
        aria-controls={groupId}
        aria-expanded={open}
        onClick={() => model.toggle(dept.id)}
      >
        <span class="caret" aria-hidden="true">
          {open ? "▾" : "▸"}
        </span>
        <span class="dept-name" dir="auto">
          {dept.name}
        </span>
        <span class="group-count">{dept.members}</span>
      </button>
      {open && (
        <ul id={groupId} class="dept-children">
          {page?.members.map((member) => (
            <li key={member.user.user_id}>
              <MemberRow chats={chats} member={member} depth={depth + 1} onClick={() => onMemberOf(member, dept)} />
            </li>
          ))}
          {page?.loading === true && <li class="empty small-text">{t.loading}</li>}
          {page?.error !== undefined && (
            <li class="error small-text" role="alert">
              {errorText(t, page.error)}
            </li>
          )}
          {page?.next !== undefined && !page.loading && (
            <li>
              <button
                type="button"
                class={`link small-text more-members depth-${Math.min(depth + 1, 6)}`}
                onClick={() => void model.loadMembers(dept.id, false)}
              >
                {t.moreMembers}
              </button>
            </li>
          )}
          {subs.map((sub) => (
            <DeptNode
              key={sub.id}
              chats={chats}
              model={model}
              dept={sub}
              all={all}
              depth={depth + 1}
              onMemberOf={onMemberOf}
            />
          ))}
        </ul>
      )}
    </li>
  );
}

function MemberRow({
  chats,
  member,
  depth,
  onClick,
}: {
  chats: Chats;
  member: DeptMember;
  depth: number;
  onClick: () => void;
}) {
  const people = chats.people;
  const card = member.user;
  const name = people.nameOf(card);
  // Pushes (for contacts) replace the snapshot the page came with.
  const status = people.presence.value.get(card.user_id)?.status ?? member.presence.status;
  return (
    <button type="button" class={`person-row member-row depth-${Math.min(depth, 6)}`} onClick={onClick}>
      <UserAvatar client={chats.client} card={card} name={name} status={status} size="s" />
      <span class="chat-row-main">
        <span class="person-name" dir="auto">
          {name}
        </span>
        <span class="chat-excerpt" dir="auto">
          {member.title !== "" ? `${member.title} · ${card.user}` : card.user}
        </span>
      </span>
    </button>
  );
}
