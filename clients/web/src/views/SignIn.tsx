// Sign in, or create an account (hidden once the server says registration
// is closed: enterprise mode, where administrators create accounts).

import { signal } from "@preact/signals";
import { useState } from "preact/hooks";
import { MagpieError } from "magpie-client";
import type { Dictionary } from "../i18n";
import { register, signIn, signedOutReason } from "../model/session";
import { CredentialsFields } from "../components/CredentialsFields";
import { Logo } from "../components/Logo";
import { PreferencesForm } from "../components/PreferencesForm";
import { usePrefs } from "./context";
import { ErrorLine } from "../components/ErrorLine";

/** The last refusal of the form, until the next attempt. */
const signInError = signal<string | undefined>(undefined);

export function SignIn() {
  const prefs = usePrefs();
  const { t } = prefs;
  const [mode, setMode] = useState<"signIn" | "register">("signIn");
  const [user, setUser] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  // Kept outside the component: signing in mounts the chats for a moment,
  // and a refusal must still be shown when this form comes back.
  const error = signInError.value;
  const setError = (text: string | undefined) => {
    signInError.value = text;
  };
  const [registrationClosed, setRegistrationClosed] = useState(false);
  const reason = signedOutReason.value;

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      if (mode === "register") await register(user, password);
      await signIn(user, password);
    } catch (caught) {
      const code = caught instanceof MagpieError ? caught.code : "internal";
      if (code === "registration_closed") {
        setRegistrationClosed(true);
        setMode("signIn");
      }
      setError(errorText(t, code));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in">
      <form class="card" onSubmit={submit} aria-labelledby="sign-in-title">
        <div class="card-brand">
          <Logo />
          <h1 id="sign-in-title">{mode === "signIn" ? t.signInTitle : t.registerTitle}</h1>
        </div>
        {reason !== undefined && reason !== "logout" && (
          <p class="notice" role="status">
            {signedOutText(t, reason)}
          </p>
        )}
        <CredentialsFields
          t={t}
          user={user}
          password={password}
          onUser={setUser}
          onPassword={setPassword}
          newAccount={mode === "register"}
        />
        <ErrorLine text={error} />
        <button type="submit" class="primary" disabled={busy}>
          {mode === "signIn" ? t.signIn : t.createAccount}
        </button>
        {!registrationClosed && (
          <button type="button" class="link" onClick={() => setMode(mode === "signIn" ? "register" : "signIn")}>
            {mode === "signIn" ? t.noAccount : t.haveAccount}
          </button>
        )}
      </form>
      <PreferencesForm prefs={prefs} />
    </main>
  );
}

/** The words for an error code, or the generic failure. */
export function errorText(t: Dictionary, code: string): string {
  const known: Record<string, string> = {
    invalid_credentials: t.errInvalidCredentials,
    account_disabled: t.errAccountDisabled,
    registration_closed: t.errRegistrationClosed,
    username_taken: t.errUsernameTaken,
    invalid_username: t.errInvalidUsername,
    invalid_password: t.errInvalidPassword,
    rate_limited: t.errRateLimited,
    overloaded: t.errRateLimited,
    offline: t.errOffline,
    timeout: t.errOffline,
    connection_closed: t.errOffline,
    unknown_user: t.errUnknownUser,
    not_allowed: t.errNotAllowed,
    muted: t.errMuted,
    body_too_large: t.errTooLong,
    too_many_sessions: t.errTooManySessions,
    already_friends: t.errAlreadyFriends,
    no_such_request: t.errNoSuchRequest,
    limit_reached: t.errLimitReached,
    too_late: t.errTooLate,
    not_amendable: t.errNotAmendable,
    forbidden: t.errForbidden,
  };
  return known[code] ?? `${t.errGeneric} (${code})`;
}

function signedOutText(t: Dictionary, reason: string): string {
  switch (reason) {
    case "revoked":
      return t.signedOutRevoked;
    case "replaced":
      return t.signedOutReplaced;
    case "account_disabled":
      return t.errAccountDisabled;
    default:
      return t.signedOutExpired;
  }
}
