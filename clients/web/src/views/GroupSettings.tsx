// A group's settings in its panel: my nickname in the group (anyone), and
// for the owner and admins who may join (the join policy) and mute-all.

import { useState } from "preact/hooks";
import type { GroupInfo, JoinPolicy } from "magpie-client";
import type { Chats } from "../model/chats";
import { usePrefs } from "./context";

const POLICIES: readonly JoinPolicy[] = ["invite", "request", "open"];

export function MyGroupNickname({
  chats,
  conv,
  act,
}: {
  chats: Chats;
  conv: number;
  act: (action: Promise<unknown>, done?: () => void) => void;
}) {
  const { t } = usePrefs();
  const current = chats.groups.of(conv).mine.value?.nickname ?? "";
  const [typed, setTyped] = useState<string | undefined>(undefined);
  const value = typed ?? current;
  return (
    <form
      class="group-nickname"
      onSubmit={(e) => {
        e.preventDefault();
        act(chats.groups.setNickname(conv, value), () => setTyped(undefined));
      }}
    >
      <label for="group-nickname">{t.myGroupNickname}</label>
      <span class="inline-form">
        <input
          id="group-nickname"
          maxLength={64}
          autocomplete="off"
          value={value}
          onInput={(e) => setTyped(e.currentTarget.value)}
        />
        <button type="submit" class="primary small" disabled={value.trim() === current}>
          {t.save}
        </button>
      </span>
    </form>
  );
}

export function GroupSettings({
  chats,
  info,
  act,
}: {
  chats: Chats;
  info: GroupInfo;
  act: (action: Promise<unknown>, done?: () => void) => void;
}) {
  const { t } = usePrefs();
  const [policy, setPolicy] = useState<JoinPolicy | undefined>(undefined);
  const chosen = policy ?? info.join_policy;
  const policyName = (p: JoinPolicy) =>
    p === "invite" ? t.policyInvite : p === "request" ? t.policyRequest : t.policyOpen;
  return (
    <section class="group-settings" aria-labelledby="group-settings-title">
      <h4 class="section-title" id="group-settings-title">
        {t.groupSettings}
      </h4>
      {/* A switch showing the group's state as the server has it (it
          turns once the change is made), not a checkbox the click flips. */}
      <button
        type="button"
        role="switch"
        class="mute-all"
        aria-checked={info.muted_all}
        onClick={() => act(chats.groups.muteAll(info.conv, !info.muted_all))}
      >
        <span class="switch-track" aria-hidden="true" />
        {t.muteEveryone}
      </button>
      <form
        class="join-policy"
        onSubmit={(e) => {
          e.preventDefault();
          act(chats.groups.setJoinPolicy(info.conv, chosen), () => setPolicy(undefined));
        }}
      >
        <label for="join-policy">{t.joinPolicy}</label>
        <span class="inline-form">
          <select id="join-policy" value={chosen} onChange={(e) => setPolicy(e.currentTarget.value as JoinPolicy)}>
            {POLICIES.map((p) => (
              <option key={p} value={p}>
                {policyName(p)}
              </option>
            ))}
          </select>
          <button type="submit" class="primary small" disabled={chosen === info.join_policy}>
            {t.save}
          </button>
        </span>
      </form>
    </section>
  );
}
