/**
 * Uploads (PROTOCOL.md 12.1): tus 1.0 with tus-js-client, the session's
 * token in the `Authorization` header (never in a URL), in chunks, with
 * progress, pause, resume, abort, and resumption across reloads: the
 * upload's URL is remembered under a fingerprint of the file (in
 * localStorage in browsers, by tus-js-client's default storage), so the
 * same file offered again continues from the server's offset.
 *
 * On completion the upload resolves to the new file's {@link FileInfo}
 * (from `GET /api/uploads/{id}`), whose `media` tells what the server
 * found the bytes to be: send it with `kind` `image`, `voice` or `video`
 * when `media.kind` says so, `file` otherwise.
 */

import type * as tus from "tus-js-client";
import type { MagpieClient } from "./client.js";
import { MagpieError } from "./errors.js";
import type { FileInfo } from "./proto/files.js";

/** tus-js-client, loaded on the first upload: a page that never uploads
 * (the admin console, a chat only read) does not download it. */
let tusLoaded: Promise<typeof tus> | undefined;
function loadTus(): Promise<typeof tus> {
  // A failed load (offline, a redeploy that renamed the chunk) is tried
  // again by the next upload rather than remembered.
  tusLoaded ??= import("tus-js-client").catch((error: unknown) => {
    tusLoaded = undefined;
    throw error;
  });
  return tusLoaded;
}

/** Where tus-js-client remembers unfinished uploads (its `UrlStorage`). */
export type UploadUrlStorage = NonNullable<tus.UploadOptions["urlStorage"]>;
/** One remembered unfinished upload. */
export type PreviousUpload = tus.PreviousUpload;

export interface UploadOptions {
  /** The name the server stores (metadata `filename`); default the
   * `File`'s name, or `file`. */
  name?: string;
  /** Bytes per PATCH; default 2 MiB. */
  chunkSize?: number;
  /** Progress: bytes the server has confirmed (on each chunk) or sent so
   * far, and the total. */
  onProgress?: (sent: number, total: number) => void;
  /** Where unfinished uploads are remembered; default: localStorage in
   * browsers (tus-js-client's default), memory elsewhere. */
  urlStorage?: UploadUrlStorage;
  /** The key that finds this upload again after a reload; default: the
   * user, the file's name, size, type and modification time. */
  fingerprint?: string;
  /** Retry delays (ms) after a failed request; default 0, 1 s, 3 s, 5 s. */
  retryDelays?: number[];
  /** Start at once (default true); otherwise call {@link Upload.start}. */
  start?: boolean;
}

export type UploadStatus = "uploading" | "paused" | "done" | "failed" | "aborted";

/** In-memory `UrlStorage`: the default outside browsers. */
export class MemoryUrlStorage implements UploadUrlStorage {
  private readonly uploads = new Map<string, { fingerprint: string; upload: PreviousUpload }>();
  private next = 0;
  async findAllUploads(): Promise<PreviousUpload[]> {
    return [...this.uploads.values()].map((u) => u.upload);
  }
  async findUploadsByFingerprint(fingerprint: string): Promise<PreviousUpload[]> {
    return [...this.uploads.values()].filter((u) => u.fingerprint === fingerprint).map((u) => u.upload);
  }
  async removeUpload(urlStorageKey: string): Promise<void> {
    this.uploads.delete(urlStorageKey);
  }
  async addUpload(fingerprint: string, upload: PreviousUpload): Promise<string> {
    this.next += 1;
    const key = `tus::${fingerprint}::${this.next}`;
    this.uploads.set(key, { fingerprint, upload: { ...upload, urlStorageKey: key } });
    return key;
  }
}

const sharedMemoryStorage = new MemoryUrlStorage();
/** Node's Buffer, where there is one (tus-js-client's Node build reads Buffers). */
const NodeBuffer = (
  globalThis as { Buffer?: { from(bytes: ArrayBufferLike, offset?: number, length?: number): Uint8Array } }
).Buffer;
const isBrowser = typeof (globalThis as { document?: unknown }).document !== "undefined";

/** The HTTP base (`http://host:port`) of a WebSocket URL (`ws://host:port/ws`). */
export function httpBaseOf(wsUrl: string): string {
  const url = new URL(wsUrl);
  url.protocol = url.protocol === "wss:" ? "https:" : "http:";
  return url.origin;
}

/** One file going up. Create it with {@link MagpieClient.upload} or
 * `new Upload(client, file, options)`. */
export class Upload {
  /** Resolves to the new file once the last byte is stored; rejects with
   * a {@link MagpieError} on failure or abort. */
  readonly done: Promise<FileInfo>;
  readonly total: number;
  /** The upload's URL on the server, once created (or found again). */
  url: string | null = null;
  private currentStatus: UploadStatus = "paused";
  private sent = 0;
  /** The tus upload, made once tus-js-client is loaded. */
  private loading: Promise<tus.Upload> | undefined;
  private readonly body: unknown;
  private readonly tusOptions: tus.UploadOptions;
  /** {@link begin} is between loading tus and starting it: it starts the
   * upload itself, so a resume meanwhile must not start it twice. */
  private beginning = false;
  private readonly base: string;
  private readonly client: MagpieClient;
  private readonly options: UploadOptions;
  private started = false;
  private resolve!: (file: FileInfo) => void;
  private reject!: (error: MagpieError) => void;

  constructor(client: MagpieClient, file: Blob | Uint8Array, options: UploadOptions = {}) {
    this.client = client;
    this.options = options;
    this.base = client.httpUrl;
    this.total = file instanceof Blob ? file.size : file.byteLength;
    this.done = new Promise<FileInfo>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.done.catch(() => undefined);
    const name = options.name ?? (file instanceof File ? file.name : undefined) ?? "file";
    const fingerprint = options.fingerprint ?? fingerprintOf(client, file, name);
    const urlStorage = options.urlStorage ?? (isBrowser ? undefined : sharedMemoryStorage);
    const tusOptions: tus.UploadOptions = {
      endpoint: `${this.base}/api/uploads`,
      chunkSize: options.chunkSize ?? 2 * 1024 * 1024,
      retryDelays: options.retryDelays ?? [0, 1000, 3000, 5000],
      metadata: { filename: name },
      uploadSize: this.total,
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      fingerprint: async () => fingerprint,
      onBeforeRequest: (req) => {
        const token = this.client.session?.token;
        if (token !== undefined) req.setHeader("Authorization", `Bearer ${token}`);
      },
      onUploadUrlAvailable: () => {
        void this.tusUpload().then((upload) => (this.url = upload.url));
      },
      onProgress: (sent) => this.progress(sent),
      onChunkComplete: (_chunk, accepted) => this.progress(accepted),
      onSuccess: () => void this.finish(),
      onError: (error) => {
        if (this.currentStatus === "aborted") return;
        this.currentStatus = "failed";
        this.reject(toMagpieError(error));
      },
      onShouldRetry: (error) => {
        const status = error.originalResponse?.getStatus() ?? 0;
        // Refusals that a retry cannot fix: quota, size, auth, gone.
        return !(status === 401 || status === 403 || status === 404 || status === 413 || status === 429);
      },
    };
    if (urlStorage !== undefined) tusOptions.urlStorage = urlStorage;
    let body: unknown = file;
    if (!isBrowser) {
      // tus-js-client's Node build reads Buffers and streams only.
      if (file instanceof Blob) tusOptions.fileReader = blobReader;
      else body = NodeBuffer?.from(file.buffer, file.byteOffset, file.byteLength) ?? file;
    }
    this.body = body;
    this.tusOptions = tusOptions;
    if (options.start !== false) this.start();
  }

  get status(): UploadStatus {
    return this.currentStatus;
  }

  /** Bytes sent so far (confirmed or on their way). */
  get progressBytes(): number {
    return this.sent;
  }

  /** Begin, continuing a remembered upload of the same file if there is
   * one (the server's offset decides where). Idempotent. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.currentStatus = "uploading";
    void this.begin();
  }

  /** Stop sending; {@link resume} continues from the server's offset. */
  pause(): void {
    if (this.currentStatus !== "uploading") return;
    this.currentStatus = "paused";
    void this.tusUpload().then(
      (upload) => upload.abort(false),
      () => undefined,
    );
  }

  resume(): void {
    if (!this.started) return this.start();
    if (this.currentStatus !== "paused" && this.currentStatus !== "failed") return;
    this.currentStatus = "uploading";
    if (this.beginning) return;
    void this.tusUpload().then(
      (upload) => upload.start(),
      (error: unknown) => this.loadFailed(error),
    );
  }

  /** Give up: the server forgets the upload (tus termination) and so
   * does the URL storage. `done` rejects with `aborted`. */
  async abort(): Promise<void> {
    if (this.currentStatus === "done" || this.currentStatus === "aborted") return;
    this.currentStatus = "aborted";
    this.reject(new MagpieError("aborted", "the upload was cancelled"));
    try {
      const upload = await this.tusUpload();
      await upload.abort(upload.url !== null);
    } catch {
      // already gone
    }
  }

  /** The tus upload, made on first use; a failed load is tried again
   * by the next call. */
  private tusUpload(): Promise<tus.Upload> {
    this.loading ??= loadTus().then(
      (module) => new module.Upload(this.body as Blob, this.tusOptions),
      (error: unknown) => {
        this.loading = undefined;
        throw error;
      },
    );
    return this.loading;
  }

  private async begin(): Promise<void> {
    this.beginning = true;
    try {
      let upload: tus.Upload;
      try {
        upload = await this.tusUpload();
      } catch (error) {
        this.loadFailed(error);
        return;
      }
      try {
        const previous = await upload.findPreviousUploads();
        const last = previous[previous.length - 1];
        if (last !== undefined) upload.resumeFromPreviousUpload(last);
      } catch {
        // no storage: start afresh
      }
      if (this.currentStatus === "uploading") upload.start();
    } finally {
      this.beginning = false;
    }
  }

  private loadFailed(error: unknown): void {
    this.currentStatus = "failed";
    this.reject(new MagpieError("unavailable", `the uploader did not load: ${String(error)}`));
  }

  private progress(sent: number): void {
    this.sent = sent;
    this.options.onProgress?.(sent, this.total);
  }

  private async finish(): Promise<void> {
    try {
      const url = (await this.tusUpload()).url;
      if (url === null) throw new MagpieError("unknown_file", "the upload has no URL");
      const response = await fetch(new URL(url, this.base), {
        headers: { Authorization: `Bearer ${this.client.session?.token ?? ""}` },
      });
      if (!response.ok) throw new MagpieError("unavailable", `the upload's state: HTTP ${response.status}`);
      const state = (await response.json()) as { file?: FileInfo | null };
      if (state.file == null) throw new MagpieError("unavailable", "the upload finished without a file");
      this.currentStatus = "done";
      this.progress(this.total);
      this.resolve(state.file);
    } catch (e) {
      this.currentStatus = "failed";
      this.reject(e instanceof MagpieError ? e : new MagpieError("unavailable", String(e)));
    }
  }
}

/** Reads a Blob in slices, for tus-js-client outside browsers. */
const blobReader: NonNullable<tus.UploadOptions["fileReader"]> = {
  async openFile(input: Blob) {
    return {
      size: input.size,
      async slice(start: number, end: number) {
        const raw = await input.slice(start, Math.min(end, input.size)).arrayBuffer();
        const bytes = NodeBuffer?.from(raw) ?? new Uint8Array(raw);
        // tus-js-client measures a slice by its `size`, as its own Buffer source does.
        const value = Object.assign(bytes, { size: bytes.length });
        return { value, done: end >= input.size };
      },
      close() {},
    };
  },
};

function fingerprintOf(client: MagpieClient, file: Blob | Uint8Array, name: string): string {
  const user = client.session?.user_id ?? 0;
  if (file instanceof Blob) {
    const modified = file instanceof File ? file.lastModified : 0;
    return ["magpie", user, name, file.size, file.type, modified, client.httpUrl].join("-");
  }
  // Bytes without identity: their size and a cheap sample of them.
  let hash = 2166136261;
  const step = Math.max(1, Math.floor(file.byteLength / 4096));
  for (let i = 0; i < file.byteLength; i += step) hash = Math.imul(hash ^ (file[i] ?? 0), 16777619) >>> 0;
  return ["magpie", user, name, file.byteLength, hash.toString(16), client.httpUrl].join("-");
}

function toMagpieError(error: Error): MagpieError {
  const response = (error as tus.DetailedError).originalResponse;
  if (response != null) {
    let code = "unavailable";
    try {
      const body = JSON.parse(response.getBody()) as { code?: string };
      if (typeof body.code === "string") code = body.code;
    } catch {
      // not JSON
    }
    return new MagpieError(code, error.message);
  }
  return new MagpieError("unavailable", error.message);
}
