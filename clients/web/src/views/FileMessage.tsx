// A file message's content: an image as a thumbnail that opens a
// lightbox, a video with its player, a voice message with its player and
// duration, anything else as a card with its name, size and a download
// link. Every URL is a signed one (`file_url`), so the token never goes
// into a URL; the file's name is only ever text.

import { useEffect, useState } from "preact/hooks";
import { MagpieError, type FileInfo, type MagpieClient, type Message } from "magpie-client";
import type { Chats } from "../model/chats";
import { signedUrl } from "../model/uploads";
import { usePrefs } from "./context";
import { driveErrorText } from "./DriveParts";
import { Lightbox } from "./Lightbox";
import { FileIcon } from "./icons";

export const FILE_KINDS: ReadonlySet<string> = new Set(["file", "image", "voice", "video"]);

/** 1536 → "1.5 KB". */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** 65 000 ms → "1:05". */
export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

/** A signed URL for a file, or undefined while it is being signed. */
function useSigned(client: MagpieClient, file: string | undefined, thumbnail = false): string | undefined {
  const [url, setUrl] = useState<string | undefined>(undefined);
  useEffect(() => {
    if (file === undefined) return;
    let live = true;
    signedUrl(client, file, thumbnail).then(
      (u) => live && setUrl(u),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [client, file, thumbnail]);
  return url;
}

export function FileMessage({ message, chats }: { message: Message; chats: Chats }) {
  const file = message.file;
  const { t } = usePrefs();
  if (file === undefined) return <p class="body">[{t.kindUnsupported}]</p>;
  return (
    <div class={`file-message file-${message.kind}`}>
      {message.kind === "image" ? (
        <ImageFile file={file} client={chats.client} />
      ) : message.kind === "video" ? (
        <VideoFile file={file} client={chats.client} />
      ) : message.kind === "voice" ? (
        <VoiceFile file={file} client={chats.client} />
      ) : (
        <FileCard file={file} client={chats.client} />
      )}
      {message.body !== "" && (
        <p class="body" dir="auto">
          {message.body}
        </p>
      )}
      <SaveToDrive file={file} client={chats.client} />
    </div>
  );
}

/** Save the message's file into the top of my drive: a new reference to
 * the same content (`drive_put`), named as sent, numbered on a clash. */
function SaveToDrive({ file, client }: { file: FileInfo; client: MagpieClient }) {
  const { t } = usePrefs();
  const [busy, setBusy] = useState(false);
  const [said, setSaid] = useState<{ error: boolean; text: string } | undefined>(undefined);
  useEffect(() => {
    if (said === undefined) return;
    const timer = setTimeout(() => setSaid(undefined), 4000);
    return () => clearTimeout(timer);
  }, [said]);
  const save = () => {
    setBusy(true);
    client.request("drive_put", { file: file.id, rename: true }).then(
      () => {
        setBusy(false);
        setSaid({ error: false, text: t.driveSaved });
      },
      (e: unknown) => {
        setBusy(false);
        setSaid({ error: true, text: driveErrorText(t, e instanceof MagpieError ? e.code : "internal") });
      },
    );
  };
  return (
    <p class="save-to-drive">
      <button
        type="button"
        class="link"
        disabled={busy}
        aria-label={`${t.driveSaveToDrive}: ${file.name}`}
        onClick={save}
      >
        {t.driveSaveToDrive}
      </button>{" "}
      <span class={said?.error === true ? "error" : "saved"} role="status">
        {said?.text ?? ""}
      </span>
    </p>
  );
}

function ImageFile({ file, client }: { file: FileInfo; client: MagpieClient }) {
  const { t } = usePrefs();
  const [open, setOpen] = useState(false);
  const thumb = useSigned(client, file.id, file.thumbnail);
  const { width, height } = file.media;
  return (
    <>
      <button
        type="button"
        class="image-thumb"
        aria-label={`${t.openImage}: ${file.name}`}
        onClick={() => setOpen(true)}
      >
        {thumb !== undefined && <img src={thumb} alt={file.name} width={width} height={height} loading="lazy" />}
      </button>
      {open && <Lightbox file={file} client={client} onClose={() => setOpen(false)} />}
    </>
  );
}

function VideoFile({ file, client }: { file: FileInfo; client: MagpieClient }) {
  const { t } = usePrefs();
  const url = useSigned(client, file.id);
  return (
    <>
      {url !== undefined && (
        <video controls preload="metadata" src={url} aria-label={`${t.videoMessage}: ${file.name}`} />
      )}
      <FileCard file={file} client={client} />
    </>
  );
}

function VoiceFile({ file, client }: { file: FileInfo; client: MagpieClient }) {
  const { t } = usePrefs();
  const url = useSigned(client, file.id);
  const duration = file.media.duration_ms;
  return (
    <div class="voice">
      {url !== undefined && <audio controls preload="metadata" src={url} aria-label={t.voiceMessage} />}
      {duration !== undefined && <span class="voice-duration">{formatDuration(duration)}</span>}
    </div>
  );
}

function FileCard({ file, client }: { file: FileInfo; client: MagpieClient }) {
  const { t } = usePrefs();
  const url = useSigned(client, file.id);
  return (
    <div class="file-card">
      <span class="file-icon" aria-hidden="true">
        <FileIcon />
      </span>
      <span class="file-text">
        <span class="file-name" dir="auto">
          {file.name}
        </span>
        <span class="file-size">{formatSize(file.size)}</span>
      </span>
      {url !== undefined && (
        <a class="file-download" href={url} download={file.name} aria-label={`${t.download} ${file.name}`}>
          {t.download}
        </a>
      )}
    </div>
  );
}
