// localStorage throws where storage is disabled (some private modes,
// blocked site data); a choice then lasts for the page only.

import type { Session } from "magpie-client";

export function readStorage(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

export function writeStorage(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // Not kept: nothing else to do.
  }
}

export function removeStorage(key: string): void {
  try {
    localStorage.removeItem(key);
  } catch {
    // Nothing was kept.
  }
}

/** A session token kept under `key`, if it is whole and not expired; a
 * damaged or expired one is removed, so the app shows its sign-in. */
export function readSession(key: string): Session | undefined {
  const raw = readStorage(key);
  if (raw === null) return undefined;
  try {
    const value = JSON.parse(raw) as Partial<Session>;
    if (
      typeof value.token === "string" &&
      typeof value.user === "string" &&
      typeof value.user_id === "number" &&
      typeof value.expires_at === "number" &&
      value.expires_at > Date.now()
    ) {
      return value as Session;
    }
  } catch {
    // Not ours, or damaged: sign in again.
  }
  removeStorage(key);
  return undefined;
}
