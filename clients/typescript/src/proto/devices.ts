/** Devices: each live login token is one signed-in device, which the user
 * can list and sign out from anywhere (PROTOCOL.md: devices,
 * device_revoke, the Device object, 9.5). */

import type { Platform } from "./session.js";

type Empty = Record<string, never>;

/** One of the caller's signed-in devices, for a "where you're signed in"
 * screen. */
export interface Device {
  /** 16 lower-case hex digits for `device_revoke`; not a secret. */
  id: string;
  /** The `device` name given at login; empty when none. */
  name: string;
  /** As given at login. Ignore values you do not know. */
  platform: Platform | (string & {});
  /** When it logged in (ms since the epoch). */
  created_at: number;
  /** Its last login, resume or disconnect (ms since the epoch); not moved
   * while it stays connected. 0 when never recorded. */
  last_seen: number;
  /** A connection with this device's token is open now, on any server. */
  online: boolean;
  /** This is the device asking. */
  current: boolean;
}

/** The answer to `devices`: newest login first, this device included. */
export interface DevicesOk {
  devices: Device[];
}

/** `device_revoke`: sign one device out; naming this connection's own
 * device signs it out too (after the answer). */
export interface DeviceRevoke {
  id: string;
}

/** The devices operations. */
export interface DeviceOps {
  devices: { args: void; result: DevicesOk };
  device_revoke: { args: DeviceRevoke; result: Empty };
}
