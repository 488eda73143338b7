// The admin console's session: one MagpieClient signed in as an
// administrator, kept in localStorage under its own key (not the chat
// app's), and refused unless the account really is one: a harmless admin
// operation (`admin_users` with limit 1) must not answer `forbidden`.

import { signal } from "@preact/signals";
import { MagpieClient, MagpieError, type ClientState } from "magpie-client";
import { readSession, removeStorage, writeStorage } from "../storage";

const SESSION_KEY = "magpie.admin.session";
const CLIENT_NAME = "magpie-admin/0.1.0";

/** The signed-in administrator's client, once checked. */
export const admin = signal<MagpieClient | undefined>(undefined);
/** The connection's state, for the banner. */
export const connection = signal<ClientState>("idle");
/** Why the last session ended (a signedOut reason, or `not_admin`). */
export const endedBecause = signal<string | undefined>(undefined);
/** A stored session is being restored: show nothing yet. */
export const restoring = signal<boolean>(false);

/** The WebSocket of the server that served this page. */
function serverUrl(): string {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/ws`;
}

function newClient(): MagpieClient {
  const client = new MagpieClient({
    url: serverUrl(),
    clientName: CLIENT_NAME,
    platform: "web",
    device: "Admin console",
  });
  client.on("state", (state) => {
    if (admin.value === client || admin.value === undefined) connection.value = state;
  });
  client.on("signedOut", ({ reason }) => {
    if (admin.value === client) forget(reason);
  });
  return client;
}

/** Fails with `not_admin` (after signing out) unless the account may
 * administer the server. */
async function requireAdmin(client: MagpieClient): Promise<void> {
  try {
    await client.request("admin_users", { limit: 1 });
  } catch (error) {
    if (error instanceof MagpieError && error.code === "forbidden") {
      await client.logout().catch(() => undefined);
      throw new MagpieError("not_admin", "this account is not an administrator");
    }
    throw error;
  }
}

/** Sign in with a password; only an administrator gets in. */
export async function signIn(user: string, password: string): Promise<void> {
  stop();
  const client = newClient();
  try {
    const session = await client.login(user.trim(), password);
    await requireAdmin(client);
    writeStorage(SESSION_KEY, JSON.stringify(session));
    endedBecause.value = undefined;
    admin.value = client;
    connection.value = client.state;
  } catch (error) {
    client.close();
    throw error;
  }
}

/** Continue the stored session, if any (and if still an administrator). */
export async function restore(): Promise<void> {
  const session = readSession(SESSION_KEY);
  if (session === undefined) return;
  restoring.value = true;
  const client = newClient();
  try {
    await client.resume(session);
    await requireAdmin(client);
    admin.value = client;
    connection.value = client.state;
  } catch (error) {
    client.close();
    removeStorage(SESSION_KEY);
    endedBecause.value = error instanceof MagpieError ? error.code : "expired";
  } finally {
    restoring.value = false;
  }
}

/** Sign out: revoke the token and forget it. */
export async function signOut(): Promise<void> {
  try {
    await admin.value?.logout();
  } catch {
    // Offline: forgotten here all the same.
  }
  forget("logout");
}

function stop(): void {
  admin.value?.close();
  admin.value = undefined;
}

function forget(reason: string): void {
  removeStorage(SESSION_KEY);
  stop();
  endedBecause.value = reason;
  connection.value = "signed_out";
}

/** The server's error code of a failure, or `internal`. */
export function codeOf(error: unknown): string {
  return error instanceof MagpieError ? error.code : "internal";
}

/** The server's message of a failure (after its code), for details. */
export function messageOf(error: unknown): string {
  if (!(error instanceof MagpieError)) return String(error);
  const prefix = `${error.code}: `;
  return error.message.startsWith(prefix) ? error.message.slice(prefix.length) : "";
}
