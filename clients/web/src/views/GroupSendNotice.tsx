// Why the reader may not send in a group now, for the composer area: muted
// until a time, or everyone muted but the owner and admins. Only a notice:
// the server decides, and a send it refuses shows its refusal.

import type { Chats } from "../model/chats";
import { usePrefs } from "./context";
import { untilText } from "./GroupCommon";
import { fill } from "../i18n";

export function GroupSendNotice({ chats, conv }: { chats: Chats; conv: number }) {
  const { t, lang } = usePrefs();
  const block = chats.groups.sendBlock(conv);
  if (block === undefined) return null;
  return (
    <p class="group-send-notice" role="status">
      {block.kind === "muted" ? fill(t.youAreMuted, { time: untilText(block.until, lang) }) : t.everyoneMuted}
    </p>
  );
}
