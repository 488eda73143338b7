// My signed-in devices: which is this one, which are online, when each
// was last seen; any other one can be signed out from here (its token is
// revoked and its connections closed at once).

import { useEffect, useState } from "preact/hooks";
import { MagpieError, type Device } from "magpie-client";
import type { Chats } from "../model/chats";
import { usePrefs } from "./context";
import { errorText } from "./SignIn";
import { shortTime } from "./text";
import { ErrorLine } from "../components/ErrorLine";

export function DevicesDialog({ chats, onClose }: { chats: Chats; onClose: () => void }) {
  const { t, lang } = usePrefs();
  const [devices, setDevices] = useState<readonly Device[] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const load = () =>
    chats.client.request("devices").then(
      (result) => setDevices(result.devices),
      (e: unknown) => setError(errorText(t, e instanceof MagpieError ? e.code : "internal")),
    );
  useEffect(() => void load(), []);

  return (
    <div
      class="overlay"
      role="dialog"
      aria-modal="true"
      aria-labelledby="devices-title"
      onClick={(e) => e.target === e.currentTarget && onClose()}
      onKeyDown={(e) => e.key === "Escape" && onClose()}
    >
      <div class="card dialog">
        <h2 id="devices-title">{t.devices}</h2>
        <ErrorLine text={error} />
        {devices === undefined ? (
          <p class="empty">{t.loading}</p>
        ) : (
          <ul class="devices">
            {devices.map((device) => (
              <li key={device.id} class="device">
                <span class="device-main">
                  <span class="chat-name" dir="auto">
                    {device.name || device.platform}
                  </span>
                  <span class="chat-excerpt">
                    {device.current
                      ? t.thisDevice
                      : device.online
                        ? t.onlineNow
                        : `${t.lastSeen} ${device.last_seen > 0 ? shortTime(device.last_seen, lang) : "—"}`}
                  </span>
                </span>
                {!device.current && (
                  <button
                    type="button"
                    class="link"
                    onClick={() =>
                      void chats.client.request("device_revoke", { id: device.id }).then(load, (e: unknown) => {
                        setError(errorText(t, e instanceof MagpieError ? e.code : "internal"));
                      })
                    }
                  >
                    {t.signOutDevice}
                  </button>
                )}
              </li>
            ))}
          </ul>
        )}
        <div class="dialog-buttons">
          <button type="button" class="primary" onClick={onClose} autofocus>
            {t.close}
          </button>
        </div>
      </div>
    </div>
  );
}
