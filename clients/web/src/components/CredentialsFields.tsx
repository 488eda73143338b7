// The username and password fields of a sign-in form, shared by the chat
// app's sign-in (which also registers) and the admin console's, so both
// keep the same bounds, autocomplete hints and labels.

import type { Dictionary } from "../i18n";

export function CredentialsFields({
  t,
  user,
  password,
  onUser,
  onPassword,
  newAccount = false,
}: {
  t: Dictionary;
  user: string;
  password: string;
  onUser: (value: string) => void;
  onPassword: (value: string) => void;
  /** Registering: the browser offers to generate and save a password,
   * and the server's minimum length is checked before sending. */
  newAccount?: boolean;
}) {
  return (
    <>
      <label>
        {t.username}
        <input
          name="username"
          autocomplete="username"
          required
          minLength={3}
          maxLength={32}
          value={user}
          onInput={(e) => onUser(e.currentTarget.value)}
        />
      </label>
      <label>
        {t.password}
        <input
          name="password"
          type="password"
          autocomplete={newAccount ? "new-password" : "current-password"}
          required
          minLength={newAccount ? 8 : 1}
          value={password}
          onInput={(e) => onPassword(e.currentTarget.value)}
        />
      </label>
    </>
  );
}
