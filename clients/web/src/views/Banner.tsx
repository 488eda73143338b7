// The connection banner: shown while the client is not online, so the
// reader knows why nothing arrives and that it is being fixed.

import { chats, connectionState, reconnectNow } from "../model/session";
import { usePrefs } from "./context";

export function Banner() {
  const { t } = usePrefs();
  const state = connectionState.value;
  const ready = chats.value?.ready.value ?? false;
  if (state === "online" && ready) return null;
  const text = state === "reconnecting" ? t.reconnecting : state === "online" ? t.syncing : t.connecting;
  return (
    <div class={`banner banner-${state}`} role="status" aria-live="polite">
      <span>{text}</span>
      {state === "reconnecting" && (
        <button type="button" class="link" onClick={reconnectNow}>
          {t.retryNow}
        </button>
      )}
    </div>
  );
}
