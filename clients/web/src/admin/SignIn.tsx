// The admin console's sign-in: username and password; an account that is
// not an administrator is told so and signed out again.

import { useState } from "preact/hooks";
import { CredentialsFields } from "../components/CredentialsFields";
import { Logo } from "../components/Logo";
import { PreferencesForm } from "../components/PreferencesForm";
import { errorText } from "../views/SignIn";
import { usePrefs } from "../views/context";
import { codeOf, endedBecause, signIn } from "./session";
import { ErrorLine } from "../components/ErrorLine";

export function AdminSignIn() {
  const prefs = usePrefs();
  const { t } = prefs;
  const [user, setUser] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const reason = endedBecause.value;

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await signIn(user, password);
    } catch (caught) {
      const code = codeOf(caught);
      setError(code === "not_admin" ? t.adminNotAdmin : errorText(t, code));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in">
      <form class="card" onSubmit={submit} aria-labelledby="admin-sign-in-title">
        <div class="card-brand">
          <Logo />
          <h1 id="admin-sign-in-title">{t.adminSignInTitle}</h1>
        </div>
        {reason !== undefined && reason !== "logout" && error === undefined && (
          <p class="notice" role="status">
            {reason === "not_admin"
              ? t.adminNotAdmin
              : reason === "account_disabled"
                ? t.errAccountDisabled
                : reason === "revoked"
                  ? t.signedOutRevoked
                  : t.signedOutExpired}
          </p>
        )}
        <CredentialsFields t={t} user={user} password={password} onUser={setUser} onPassword={setPassword} />
        <ErrorLine text={error} />
        <button type="submit" class="primary" disabled={busy}>
          {t.signIn}
        </button>
      </form>
      <PreferencesForm prefs={prefs} />
    </main>
  );
}
