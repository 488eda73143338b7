// Forwarding: pick up to ten chats from the list (groups and 1:1, with a
// filter box), add an optional comment, and send. The messages go one by
// one or as one chat record, as chosen before the dialog opened.

import { useEffect, useRef, useState } from "preact/hooks";
import { MagpieError } from "magpie-client";
import { FORWARD_MAX_DESTINATIONS, type Chats, type ForwardRequest } from "../model/chats";
import { chatName } from "./ChatList";
import { usePrefs } from "./context";
import { errorText } from "./SignIn";
import { Avatar } from "./text";
import { ErrorLine } from "../components/ErrorLine";
import { fill } from "../i18n";

export function ForwardDialog({
  chats,
  request,
  onClose,
}: {
  chats: Chats;
  request: ForwardRequest;
  onClose: () => void;
}) {
  const { t } = usePrefs();
  const [filter, setFilter] = useState("");
  const [picked, setPicked] = useState<readonly number[]>([]);
  const [comment, setComment] = useState("");
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const filterBox = useRef<HTMLInputElement>(null);
  useEffect(() => filterBox.current?.focus(), []);

  const needle = filter.trim().toLowerCase();
  const rows = chats.list.value.filter((row) => needle === "" || chatName(row).toLowerCase().includes(needle));
  const full = picked.length >= FORWARD_MAX_DESTINATIONS;
  const toggle = (conv: number, on: boolean) =>
    setPicked(on ? [...picked.filter((c) => c !== conv), conv] : picked.filter((c) => c !== conv));

  const submit = async (event: Event) => {
    event.preventDefault();
    if (picked.length === 0) return;
    setBusy(true);
    setError(undefined);
    try {
      await chats.forward(request, picked, comment);
    } catch (caught) {
      setError(errorText(t, caught instanceof MagpieError ? caught.code : "internal"));
      setBusy(false);
    }
  };

  const n = String(request.seqs.length);
  const title =
    request.seqs.length === 1 ? t.forwardOne : fill(request.merge ? t.forwardAsRecordN : t.forwardOneByOneN, { n });
  return (
    <div
      class="overlay"
      role="dialog"
      aria-modal="true"
      aria-labelledby="forward-title"
      onClick={(e) => e.target === e.currentTarget && onClose()}
    >
      <form
        class="card dialog forward-dialog"
        onSubmit={submit}
        onKeyDown={(e) => {
          if (e.key !== "Escape") return;
          e.stopPropagation();
          onClose();
        }}
      >
        <h2 id="forward-title">{title}</h2>
        <label>
          {t.forwardFilter}
          <input
            ref={filterBox}
            type="search"
            autocomplete="off"
            value={filter}
            onInput={(e) => setFilter(e.currentTarget.value)}
          />
        </label>
        <fieldset class="forward-targets">
          <legend>
            {t.forwardTo} ({picked.length}/{FORWARD_MAX_DESTINATIONS})
          </legend>
          {rows.length === 0 && <p class="empty">{t.forwardNoChats}</p>}
          {rows.map((row) => {
            const name = chatName(row);
            const on = picked.includes(row.conv);
            return (
              <label key={row.conv} class="check forward-target" data-conv={row.conv}>
                <input
                  type="checkbox"
                  checked={on}
                  disabled={!on && full}
                  onChange={(e) => toggle(row.conv, e.currentTarget.checked)}
                />
                <Avatar name={name} size="s" />
                <span class="forward-target-name" dir="auto">
                  {name}
                </span>
                {row.kind === "group" && <span class="forward-target-kind">{t.forwardGroup}</span>}
              </label>
            );
          })}
        </fieldset>
        <label>
          {t.forwardComment}
          <textarea
            class="forward-comment"
            rows={2}
            value={comment}
            onInput={(e) => setComment(e.currentTarget.value)}
          />
        </label>
        <ErrorLine text={error} />
        <div class="dialog-buttons">
          <button type="button" class="link" onClick={onClose}>
            {t.cancel}
          </button>
          <button type="submit" class="primary" disabled={busy || picked.length === 0}>
            {picked.length > 0 ? `${t.send} (${picked.length})` : t.send}
          </button>
        </div>
      </form>
    </div>
  );
}
