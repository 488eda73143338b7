// The signed-in session: one MagpieClient for the page, its state as
// signals, and the token kept in localStorage so a reload resumes without
// the password. The token never goes into a URL (it is sent in `resume`
// over the WebSocket, and as a Bearer header to the file API).

import { signal } from "@preact/signals";
import { MagpieClient, MagpieError, type ClientState } from "magpie-client";
import { readSession, removeStorage, writeStorage } from "../storage";
import { Cache } from "./cache";
import { Chats } from "./chats";

const SESSION_KEY = "magpie.session";

/** The connection's state, for the banner. */
export const connectionState = signal<ClientState>("idle");
/** The signed-in user's chats, once signed in. */
export const chats = signal<Chats | undefined>(undefined);
/** Why the last session ended, for the sign-in screen. */
export const signedOutReason = signal<string | undefined>(undefined);
/** Whether a stored session is being restored (show nothing yet). */
export const restoring = signal<boolean>(false);

let client: MagpieClient | undefined;

/** The WebSocket of the server that served this page. */
export function serverUrl(): string {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/ws`;
}

/** Try to reconnect now rather than at the end of the backoff. */
export function reconnectNow(): void {
  client?.reconnectNow();
}

/** Create an account; the server may be in enterprise mode
 * (`registration_closed`). */
export async function register(user: string, password: string): Promise<void> {
  await MagpieClient.register({ url: serverUrl(), clientName: "magpie-web/0.1.0" }, user, password);
}

/** Sign in with a password and open the chats. */
export async function signIn(user: string, password: string): Promise<void> {
  const next = await start(user.trim().toLowerCase());
  try {
    const session = await next.client.login(user.trim(), password);
    writeStorage(SESSION_KEY, JSON.stringify(session));
    signedOutReason.value = undefined;
  } catch (error) {
    stop();
    throw error;
  }
}

/** Resume the stored session, if any: the chats open from the cache at
 * once, and the client catches up behind them. */
export async function restore(): Promise<void> {
  const session = readSession(SESSION_KEY);
  if (session === undefined) return;
  restoring.value = true;
  try {
    const next = await start(session.user);
    restoring.value = false;
    await next.client.resume(session).catch((error: unknown) => {
      if (!(error instanceof MagpieError)) throw error;
      // invalid_token, account_disabled: signedOut has shown the sign-in.
    });
  } finally {
    restoring.value = false;
  }
}

/** Sign out this device: revoke the token and forget the local cache. */
export async function signOut(): Promise<void> {
  const current = client;
  try {
    await current?.logout();
  } catch {
    // Offline: the token stays valid on the server until it expires or is
    // revoked from another device; it is forgotten here all the same.
  }
  forget(undefined);
}

/**
 * Open the user's cache and make the client and the chats over it. The
 * cache is keyed by the lower-case username (known before login; names
 * are never reused, even after an account is deleted).
 */
async function start(user: string): Promise<Chats> {
  stop();
  const cache = await Cache.open(user);
  const snapshot = await cache.snapshot();
  let model: Chats | undefined;
  const next = new MagpieClient({
    url: serverUrl(),
    clientName: "magpie-web/0.1.0",
    platform: "web",
    device: browserName(),
    outbox: cache.outbox(),
    cursors: snapshot.cursors,
    changeCursor: snapshot.changeCursor,
    onAuthenticated: async (c) => model?.prepare(c),
  });
  model = new Chats(next, user, cache, snapshot);
  client = next;
  chats.value = model;
  connectionState.value = next.state;
  next.on("state", (state) => {
    connectionState.value = state;
  });
  next.on("signedOut", ({ reason }) => forget(reason));
  return model;
}

function stop(): void {
  client?.close();
  client = undefined;
  chats.value?.dispose();
  chats.value = undefined;
}

function forget(reason: string | undefined): void {
  const user = chats.value?.me;
  removeStorage(SESSION_KEY);
  stop();
  if (user !== undefined) void Cache.drop(user);
  signedOutReason.value = reason;
  connectionState.value = "signed_out";
}

/** A device name the user recognises in their device list. */
function browserName(): string {
  const ua = navigator.userAgent;
  const browser = /Edg\//.test(ua)
    ? "Edge"
    : /Chrom/.test(ua)
      ? "Chrome"
      : /Firefox\//.test(ua)
        ? "Firefox"
        : /Safari\//.test(ua)
          ? "Safari"
          : "Browser";
  const os = /Windows/.test(ua)
    ? "Windows"
    : /Mac OS/.test(ua)
      ? "macOS"
      : /Android/.test(ua)
        ? "Android"
        : /iPhone|iPad/.test(ua)
          ? "iOS"
          : /Linux/.test(ua)
            ? "Linux"
            : "";
  return os === "" ? browser : `${browser} on ${os}`;
}
