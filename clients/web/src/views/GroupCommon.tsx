// What the group views share: running a group operation and showing its
// refusal in the reader's words, the inline confirm step (never a browser
// dialog) for what cannot be undone, and how a mute's end is written.

import { useEffect, useRef, useState } from "preact/hooks";
import { MagpieError } from "magpie-client";
import type { Dictionary } from "../i18n";
import type { Chats } from "../model/chats";
import { usePrefs } from "./context";
import { errorText } from "./SignIn";
import { ErrorLine } from "../components/ErrorLine";

/** A refusal of a group operation as a sentence. */
export function groupErrorText(t: Dictionary, error: unknown, joining = false): string {
  const code = error instanceof MagpieError ? error.code : "internal";
  if (code === "unknown_conversation") return t.errNoSuchGroup;
  if (code === "invalid_args") return t.errInvalidArgs;
  if (code === "not_allowed" && joining) return t.errJoinNotAllowed;
  return errorText(t, code);
}

/** Run group operations one after another's answer: on success the group
 * is reloaded (its event reloads it too; this is quicker on this device),
 * on refusal the error is kept to show. */
export function useGroupAction(chats: Chats, conv: number) {
  const { t } = usePrefs();
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const act = (action: Promise<unknown>, done?: () => void) => {
    setProblem(undefined);
    action.then(
      () => {
        void chats.groups.reload(conv);
        done?.();
      },
      (error: unknown) => setProblem(groupErrorText(t, error)),
    );
  };
  const fail = (error: unknown) => setProblem(groupErrorText(t, error));
  return { problem, act, fail };
}

/** A group action's refusal, kept in view at the top of the panel. */
export function Problem({ text }: { text: string | undefined }) {
  return <ErrorLine text={text} className="group-problem" />;
}

/** A question with a confirm and a cancel button, in place of the button
 * that asked it; Esc cancels without closing what it is in. */
export function ConfirmStep({
  question,
  confirm,
  onConfirm,
  onCancel,
}: {
  question: string;
  confirm: string;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const { t } = usePrefs();
  const button = useRef<HTMLButtonElement>(null);
  useEffect(() => button.current?.focus(), []);
  return (
    <div
      class="confirm-step"
      role="group"
      aria-label={question}
      onKeyDown={(e) => {
        if (e.key !== "Escape") return;
        e.stopPropagation();
        onCancel();
      }}
    >
      <p dir="auto">{question}</p>
      <div class="confirm-buttons">
        <button type="button" class="link" onClick={onCancel}>
          {t.cancel}
        </button>
        <button type="button" ref={button} class="confirm-danger" onClick={onConfirm}>
          {confirm}
        </button>
      </div>
    </div>
  );
}

/** When a mute ends: the time today, else the date and time. */
export function untilText(ts: number, lang: string): string {
  const date = new Date(ts);
  const sameDay = date.toDateString() === new Date().toDateString();
  return sameDay
    ? date.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleString(lang, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}
