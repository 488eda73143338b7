// Parts of the drive pane: how an entry is shown (icon, date, refusals in
// words), files going up into a folder, the bin, and my share links.

import type { VNode } from "preact";
import { useRef, useState } from "preact/hooks";
import { MagpieError, type DriveEntry, type ShareInfo } from "magpie-client";
import type { Dictionary } from "../i18n";
import { shareAddress, sortEntries, type Drive } from "../model/drive";
import { usePrefs } from "./context";
import { formatSize } from "./FileMessage";
import { errorText } from "./SignIn";
import { AudioIcon, CloseIcon, FileIcon, FolderIcon, ImageIcon, VideoIcon } from "./icons";
import { ErrorLine } from "../components/ErrorLine";
import { fill } from "../i18n";

/** The words for a refusal of a drive operation. */
export function driveErrorText(t: Dictionary, code: string): string {
  const known: Record<string, string> = {
    name_taken: t.driveErrNameTaken,
    invalid_name: t.driveErrInvalidName,
    quota_exceeded: t.driveErrQuota,
    unknown_entry: t.driveErrUnknownEntry,
    invalid_move: t.driveErrInvalidMove,
    unknown_share: t.driveErrUnknownShare,
    invalid_args: t.driveErrInvalidArgs,
    file_too_large: t.driveErrTooLarge,
    wrong_code: t.driveErrWrongCode,
  };
  return known[code] ?? errorText(t, code);
}

/** A date and time in the reader's language. */
export function dateTime(ts: number, lang: string): string {
  return new Date(ts).toLocaleString(lang, { dateStyle: "medium", timeStyle: "short" });
}

/** An entry's icon and what it is, from its kind and content. */
export function kindOf(entry: Pick<DriveEntry, "kind" | "file">, t: Dictionary): { icon: VNode; label: string } {
  if (entry.kind === "folder") return { icon: <FolderIcon />, label: t.driveKindFolder };
  switch (entry.file?.media.kind) {
    case "image":
      return { icon: <ImageIcon />, label: t.driveKindImage };
    case "video":
      return { icon: <VideoIcon />, label: t.driveKindVideo };
    case "voice":
      return { icon: <AudioIcon />, label: t.driveKindAudio };
    default:
      return { icon: <FileIcon />, label: t.driveKindFile };
  }
}

export function KindIcon({ entry }: { entry: Pick<DriveEntry, "kind" | "file"> }) {
  const { t } = usePrefs();
  const { icon, label } = kindOf(entry, t);
  return (
    <span class="drive-icon" role="img" aria-label={label} title={label}>
      {icon}
    </span>
  );
}

/** A read-only text with a Copy button: the clipboard when the browser
 * allows it, else the text is selected for the reader to copy. */
export function CopyField({ id, label, value }: { id: string; label: string; value: string }) {
  const { t } = usePrefs();
  const input = useRef<HTMLInputElement>(null);
  const [done, setDone] = useState<string | undefined>(undefined);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setDone(t.driveCopied);
    } catch {
      input.current?.focus();
      input.current?.select();
      setDone(t.driveCopyManually);
    }
  };
  return (
    <div class="copy-field">
      <label for={id}>{label}</label>
      <span class="copy-row">
        <input id={id} ref={input} readOnly value={value} onFocus={(e) => e.currentTarget.select()} />
        <button type="button" aria-label={fill(t.driveCopyWhat, { what: label })} onClick={() => void copy()}>
          {t.driveCopy}
        </button>
      </span>
      <span class="copy-status" role="status">
        {done ?? ""}
      </span>
    </div>
  );
}

/** Files going up into the drive: progress, pause or resume, cancel. */
export function DriveUploads({ drive }: { drive: Drive }) {
  const { t } = usePrefs();
  const uploads = drive.uploads.value;
  if (uploads.length === 0) return null;
  return (
    <section class="drive-uploads" aria-label={t.driveUploads}>
      <ul>
        {uploads.map((upload) => {
          const percent = upload.size === 0 ? 100 : Math.floor((upload.sent / upload.size) * 100);
          return (
            <li key={upload.key} class={`drive-upload drive-upload-${upload.status}`}>
              <span class="drive-name" dir="auto">
                {upload.name}
              </span>
              <progress max={100} value={percent} aria-label={`${t.uploading} ${upload.name}`}>
                {percent}%
              </progress>
              <span class="file-size">
                {upload.status === "placing"
                  ? t.drivePlacing
                  : `${formatSize(upload.sent)} / ${formatSize(upload.size)}`}
              </span>
              {upload.status === "failed" && (
                <span class="error" role="alert">
                  {t.uploadFailed}: {driveErrorText(t, upload.error ?? "internal")}
                </span>
              )}
              {upload.status === "uploading" && (
                <button type="button" class="link" onClick={() => drive.pause(upload.key)}>
                  {t.pause}
                </button>
              )}
              {(upload.status === "paused" || upload.status === "failed") && (
                <button type="button" class="link" onClick={() => drive.resume(upload.key)}>
                  {t.resume}
                </button>
              )}
              <button
                type="button"
                class="link"
                aria-label={`${t.cancelUpload} ${upload.name}`}
                onClick={() => drive.cancel(upload.key)}
              >
                <CloseIcon />
              </button>
            </li>
          );
        })}
      </ul>
    </section>
  );
}

/** The bin: restore or purge each entry, or empty it all. */
export function DriveBin({ drive, onEmpty }: { drive: Drive; onEmpty: () => void }) {
  const { t, lang } = usePrefs();
  const entries = sortEntries(drive.bin.value, "bin", "name");
  return (
    <>
      <div class="drive-toolbar">
        <p class="drive-help">{t.driveBinHelp}</p>
        <div class="drive-actions">
          <button type="button" class="drive-danger" disabled={entries.length === 0} onClick={onEmpty}>
            {t.driveEmptyBin}
          </button>
        </div>
      </div>
      {entries.length === 0 ? (
        <p class="empty">{drive.loading.value ? t.loading : t.driveBinEmpty}</p>
      ) : (
        <table class="drive-table drive-bin">
          <DriveTableHead time={t.driveDeletedAt} />
          <tbody>
            {entries.map((entry) => (
              <tr key={entry.id} data-entry={entry.id} class="drive-row">
                <td class="drive-name-cell">
                  <KindIcon entry={entry} />
                  <span class="drive-name" dir="auto">
                    {entry.name}
                  </span>
                </td>
                <td class="drive-size">{entry.kind === "file" ? formatSize(entry.size) : "—"}</td>
                <td class="drive-time">
                  {entry.trashed_at !== undefined && dateTime(entry.trashed_at, lang)}
                  {entry.purge_at !== undefined && (
                    <span class="drive-purge-at">
                      {fill(t.drivePurgeAt, { date: new Date(entry.purge_at).toLocaleDateString(lang) })}
                    </span>
                  )}
                </td>
                <td class="drive-row-actions">
                  <span class="drive-buttons">
                    <button
                      type="button"
                      class="link"
                      aria-label={`${t.driveRestore} ${entry.name}`}
                      onClick={() => drive.attempt((d) => d.restore([entry]))}
                    >
                      {t.driveRestore}
                    </button>
                    <button
                      type="button"
                      class="link drive-danger"
                      aria-label={`${t.drivePurge} ${entry.name}`}
                      onClick={() => drive.attempt((d) => d.purge([entry]))}
                    >
                      {t.drivePurge}
                    </button>
                  </span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {drive.binNext.value !== undefined && (
        <button type="button" class="link drive-more-rows" onClick={() => void drive.loadMore()}>
          {t.driveLoadMore}
        </button>
      )}
    </>
  );
}

/** My share links: what each shares, its code, expiry and counts; copy
 * or revoke it. */
export function DriveShares({ drive }: { drive: Drive }) {
  const { t, lang } = usePrefs();
  const shares = drive.shares.value;
  if (shares.length === 0) return <p class="empty">{drive.loading.value ? t.loading : t.driveNoShares}</p>;
  return (
    <>
      <ul class="drive-shares">
        {shares.map((share) => (
          <ShareRow key={share.id} drive={drive} share={share} lang={lang} />
        ))}
      </ul>
      {drive.sharesNext.value !== undefined && (
        <button type="button" class="link drive-more-rows" onClick={() => void drive.loadMore()}>
          {t.driveLoadMore}
        </button>
      )}
    </>
  );
}

function ShareRow({ drive, share, lang }: { drive: Drive; share: ShareInfo; lang: string }) {
  const { t } = usePrefs();
  const [error, setError] = useState<string | undefined>(undefined);
  const downloads =
    share.max_downloads === undefined
      ? fill(t.driveShareDownloads, { n: String(share.downloads) })
      : fill(t.driveShareDownloadsOf, { n: String(share.downloads), max: String(share.max_downloads) });
  return (
    <li class={`drive-share${share.active ? "" : " inactive"}`} data-share={share.id}>
      <div class="drive-share-head">
        <KindIcon entry={{ kind: share.kind }} />
        <span class="drive-name" dir="auto">
          {share.name}
        </span>
        {!share.active && <span class="drive-badge">{t.driveShareInactive}</span>}
        <button
          type="button"
          class="drive-danger"
          aria-label={`${t.driveRevoke} ${share.name}`}
          onClick={() =>
            void drive
              .unshare(share)
              .catch((e: unknown) => setError(driveErrorText(t, e instanceof MagpieError ? e.code : "internal")))
          }
        >
          {t.driveRevoke}
        </button>
      </div>
      <p class="drive-share-meta">
        {share.expires_at === undefined
          ? t.driveShareNoExpiry
          : fill(t.driveShareExpires, { date: dateTime(share.expires_at, lang) })}
        {" · "}
        {downloads}
        {" · "}
        {fill(t.driveShareSaves, { n: String(share.saves) })}
      </p>
      <div class="drive-share-copy">
        <CopyField id={`share-link-${share.id}`} label={t.driveShareLink} value={shareAddress(share)} />
        <CopyField id={`share-code-${share.id}`} label={t.driveShareCodeLabel} value={share.code} />
      </div>
      <ErrorLine text={error} />
    </li>
  );
}

/** The columns of a list of entries: name, size, a time (modified, or
 * deleted in the bin) and the actions. */
export function DriveTableHead({ time }: { time: string }) {
  const { t } = usePrefs();
  return (
    <thead>
      <tr>
        <th scope="col">{t.driveName}</th>
        <th scope="col" class="drive-size">
          {t.driveSize}
        </th>
        <th scope="col" class="drive-time">
          {time}
        </th>
        <th scope="col">
          <span class="visually-hidden">{t.driveActions}</span>
        </th>
      </tr>
    </thead>
  );
}
