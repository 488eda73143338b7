/** The session area: the handshake, accounts on the wire, and goaway
 * (PROTOCOL.md sections 4 and 5: hello, register, login, resume, logout,
 * ping). */

/** What kind of client a login is (9.5): kept with the token. */
export type Platform = "desktop" | "mobile" | "web" | "cli" | "bot";

export interface Hello {
  version: number;
  client?: string;
}

/** The server's limits, announced by `hello`. */
export interface HelloOk {
  version: number;
  server: string;
  max_frame_bytes: number;
  max_body_bytes: number;
  idle_timeout_secs: number;
}

export interface Register {
  user: string;
  password: string;
}

export interface Registered {
  user_id: number;
  user: string;
}

export interface Login {
  user: string;
  password: string;
  device?: string;
  platform?: Platform;
}

export interface Resume {
  token: string;
}

/** The answer to `login` (with `token`) and `resume` (without). */
export interface Authenticated {
  user_id: number;
  user: string;
  token?: string;
  expires_at: number;
}

/** Why the server is about to close the connection (4.3). Unknown reasons
 * are treated like `shutdown`. */
export type GoAwayReason =
  | "shutdown"
  | "slow_consumer"
  | "logout"
  | "revoked"
  | "replaced"
  | "account_disabled"
  | "token_expired"
  | "auth_timeout"
  | "idle"
  | "too_many_connections"
  | "server_full";

export interface GoAway {
  reason: GoAwayReason | (string & {});
  reconnect_after_ms: number;
}

/** Reasons after which the token is gone and the client must not resume. */
export const TOKEN_ENDING_REASONS: ReadonlySet<string> = new Set([
  "logout",
  "revoked",
  "replaced",
  "account_disabled",
  "token_expired",
]);

type Empty = Record<string, never>;

export interface SessionOps {
  hello: { args: Hello; result: HelloOk };
  register: { args: Register; result: Registered };
  login: { args: Login; result: Authenticated };
  resume: { args: Resume; result: Authenticated };
  logout: { args: void; result: Empty };
  ping: { args: void; result: Empty };
}

export interface SessionPushes {
  goaway: GoAway;
  /** Pushes to this connection may have been lost: catch up (6, resync). */
  resync: Empty;
}
