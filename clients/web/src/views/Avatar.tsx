// A user's avatar: their image when they set one with `avatar_set` (a
// signed thumbnail URL, so the token never goes into a URL), else their
// initials on a colour derived from the username; optionally with the
// presence dot. Used by the contacts, profile cards and the directory.

import { useEffect, useState } from "preact/hooks";
import type { MagpieClient, PresenceStatus, UserCard } from "magpie-client";
import { avatarFile } from "../model/people";
import { signedUrl } from "../model/uploads";
import { usePrefs } from "./context";
import { Avatar } from "./text";

type Size = "s" | "m" | "l";

export function UserAvatar({
  client,
  card,
  name,
  status,
  size = "m",
}: {
  client: MagpieClient;
  card: Pick<UserCard, "user" | "nickname" | "avatar">;
  /** The name the initials come from; default the nickname or username. */
  name?: string;
  /** Shows the presence dot when given. */
  status?: PresenceStatus | undefined;
  size?: Size;
}) {
  const url = useAvatarUrl(client, card.avatar);
  const [broken, setBroken] = useState<string | undefined>(undefined);
  const shown = url !== undefined && broken !== url ? url : undefined;
  const face =
    shown !== undefined ? (
      <img class={`avatar avatar-${size} avatar-img`} src={shown} alt="" onError={() => setBroken(shown)} />
    ) : (
      <Avatar name={name ?? (card.nickname || card.user)} hueKey={card.user} size={size} />
    );
  if (status === undefined) return face;
  return (
    <span class="avatar-wrap">
      {face}
      <PresenceDot status={status} />
    </span>
  );
}

/** The dot, with its status as an accessible name. */
export function PresenceDot({ status }: { status: PresenceStatus }) {
  const label = useStatusLabel(status);
  return (
    <span
      class={`presence-dot status-${status}${status === "online" ? " online" : ""}`}
      role="img"
      aria-label={label}
      title={label}
    />
  );
}

export function useStatusLabel(status: PresenceStatus): string {
  const { t } = usePrefs();
  const labels: Record<PresenceStatus, string> = {
    online: t.online,
    away: t.statusAway,
    busy: t.statusBusy,
    invisible: t.statusInvisible,
    offline: t.offline,
  };
  return labels[status];
}

/** The signed thumbnail URL of an avatar file; undefined while signing,
 * and for no avatar or a URL one (the page may load only its own). */
function useAvatarUrl(client: MagpieClient, avatar: string): string | undefined {
  const file = avatarFile(avatar);
  const [url, setUrl] = useState<{ file: string; url: string } | undefined>(undefined);
  useEffect(() => {
    if (file === undefined) return;
    let live = true;
    // The server-made thumbnail, else (should it have none) the image.
    signedUrl(client, file, true)
      .catch(() => signedUrl(client, file))
      .then(
        (signed) => live && setUrl({ file, url: signed }),
        () => undefined,
      );
    return () => {
      live = false;
    };
  }, [client, file]);
  return url !== undefined && url.file === file ? url.url : undefined;
}
