// The drive's dialogs: a name (new folder, rename), a folder picker to
// move an entry, making a share link (code, expiry, download limit) and
// copying it, and a confirmation. Each is the app's dialog: a card over
// an overlay, Esc or a click outside closes it.

import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { MagpieError, type Crumb, type DriveEntry, type ShareInfo } from "magpie-client";
import { parseShareLink, shareAddress, type Drive } from "../model/drive";
import { usePrefs } from "./context";
import { CopyField, driveErrorText, KindIcon } from "./DriveParts";
import { ErrorLine } from "../components/ErrorLine";
import { fill } from "../i18n";

function Dialog({
  id,
  title,
  onClose,
  onSubmit,
  children,
}: {
  id: string;
  title: string;
  onClose: () => void;
  onSubmit: () => void;
  children: ComponentChildren;
}) {
  // Esc closes wherever the focus is (a button disabled while busy drops it).
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [onClose]);
  return (
    <div
      class="overlay"
      role="dialog"
      aria-modal="true"
      aria-labelledby={id}
      onClick={(e) => e.target === e.currentTarget && onClose()}
    >
      <form
        class="card dialog drive-dialog"
        onSubmit={(e) => {
          e.preventDefault();
          onSubmit();
        }}
      >
        <h2 id={id} dir="auto">
          {title}
        </h2>
        {children}
      </form>
    </div>
  );
}

/** Run a request from a dialog: busy meanwhile, its refusal shown in it. */
function useRun(): {
  busy: boolean;
  error: string | undefined;
  run: (action: () => Promise<unknown>, then: () => void) => void;
} {
  const { t } = usePrefs();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const run = (action: () => Promise<unknown>, then: () => void) => {
    setBusy(true);
    setError(undefined);
    action().then(
      () => {
        setBusy(false);
        then();
      },
      (e: unknown) => {
        setBusy(false);
        setError(driveErrorText(t, e instanceof MagpieError ? e.code : "internal"));
      },
    );
  };
  return { busy, error, run };
}

/** A name for a new folder, or an entry's new name. */
export function NameDialog(props: {
  title: string;
  label: string;
  initial: string;
  submit: string;
  onSubmit: (name: string) => Promise<unknown>;
  onClose: () => void;
}) {
  const { t } = usePrefs();
  const [name, setName] = useState(props.initial);
  const { busy, error, run } = useRun();
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    const box = input.current;
    if (box === null) return;
    box.focus();
    // Select the name without its extension, as file managers do.
    const dot = props.initial.lastIndexOf(".");
    box.setSelectionRange(0, dot > 0 ? dot : props.initial.length);
  }, []);
  return (
    <Dialog
      id="drive-name-title"
      title={props.title}
      onClose={props.onClose}
      onSubmit={() => run(() => props.onSubmit(name), props.onClose)}
    >
      <label>
        {props.label}
        <input ref={input} required maxLength={255} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <ErrorLine text={error} />
      <div class="dialog-buttons">
        <button type="button" class="link" onClick={props.onClose}>
          {t.cancel}
        </button>
        <button type="submit" class="primary" disabled={busy || name.trim() === ""}>
          {props.submit}
        </button>
      </div>
    </Dialog>
  );
}

/** A folder picker: browse the drive's folders and move the entry into
 * the one on show. */
export function MoveDialog({ drive, entry, onClose }: { drive: Drive; entry: DriveEntry; onClose: () => void }) {
  const { t } = usePrefs();
  const [folder, setFolder] = useState<string | undefined>(undefined);
  const [listing, setListing] = useState<{ path: readonly Crumb[]; folders: DriveEntry[] } | undefined>(undefined);
  const { busy, error, run } = useRun();
  useEffect(() => {
    let live = true;
    setListing(undefined);
    drive.foldersIn(folder).then(
      (found) => live && setListing(found),
      () => live && setListing({ path: [], folders: [] }),
    );
    return () => {
      live = false;
    };
  }, [folder]);
  const here = entry.parent === folder;
  return (
    <Dialog
      id="drive-move-title"
      title={fill(t.driveMoveTitle, { name: entry.name })}
      onClose={onClose}
      onSubmit={() => run(() => drive.move([entry], folder), onClose)}
    >
      <nav class="drive-crumbs" aria-label={t.driveMove}>
        <ol>
          <li>
            <button type="button" class="link" onClick={() => setFolder(undefined)}>
              {t.driveMine}
            </button>
          </li>
          {(listing?.path ?? []).map((crumb) => (
            <li key={crumb.id}>
              <button type="button" class="link" dir="auto" onClick={() => setFolder(crumb.id)}>
                {crumb.name}
              </button>
            </li>
          ))}
        </ol>
      </nav>
      {listing === undefined ? (
        <p class="empty">{t.loading}</p>
      ) : listing.folders.length === 0 ? (
        <p class="empty">{t.driveNoSubfolders}</p>
      ) : (
        <ul class="drive-picker">
          {listing.folders.map((f) => (
            <li key={f.id}>
              <button
                type="button"
                class="nav-item"
                disabled={f.id === entry.id}
                aria-label={fill(t.driveMoveInto, { name: f.name })}
                onClick={() => setFolder(f.id)}
              >
                <KindIcon entry={f} /> <span dir="auto">{f.name}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      <ErrorLine text={error} />
      <div class="dialog-buttons">
        <button type="button" class="link" onClick={onClose}>
          {t.cancel}
        </button>
        <button type="submit" class="primary" disabled={busy || here || listing === undefined}>
          {t.driveMoveHere}
        </button>
      </div>
    </Dialog>
  );
}

const DAY = 86_400_000;

/** Make a share link over an entry, then show it and its code to copy. */
export function ShareDialog({ drive, entry, onClose }: { drive: Drive; entry: DriveEntry; onClose: () => void }) {
  const { t } = usePrefs();
  const [code, setCode] = useState("");
  const [days, setDays] = useState("7");
  const [limit, setLimit] = useState("");
  const [made, setMade] = useState<ShareInfo | undefined>(undefined);
  const { busy, error, run } = useRun();
  const create = () =>
    run(
      async () => {
        const share = await drive.share({
          entry: entry.id,
          ...(code.trim() !== "" ? { code: code.trim() } : {}),
          ...(days !== "0" ? { expires_at: Date.now() + Number(days) * DAY } : {}),
          ...(limit.trim() !== "" ? { max_downloads: Number(limit) } : {}),
        });
        setMade(share);
      },
      () => undefined,
    );
  return (
    <Dialog
      id="drive-share-title"
      title={fill(t.driveShareTitle, { name: entry.name })}
      onClose={onClose}
      onSubmit={create}
    >
      {made === undefined ? (
        <>
          <label>
            {t.driveShareCode}
            <input
              autoFocus
              autocomplete="off"
              pattern="[A-Za-z0-9]{4,16}"
              maxLength={16}
              value={code}
              onInput={(e) => setCode(e.currentTarget.value)}
            />
          </label>
          <label>
            {t.driveShareExpiry}
            <select value={days} onChange={(e) => setDays(e.currentTarget.value)}>
              <option value="1">{t.driveExpiry1}</option>
              <option value="7">{t.driveExpiry7}</option>
              <option value="30">{t.driveExpiry30}</option>
              <option value="0">{t.driveExpiryNever}</option>
            </select>
          </label>
          <label>
            {t.driveShareLimit}
            <input type="number" min={1} step={1} value={limit} onInput={(e) => setLimit(e.currentTarget.value)} />
          </label>
          <ErrorLine text={error} />
          <div class="dialog-buttons">
            <button type="button" class="link" onClick={onClose}>
              {t.cancel}
            </button>
            <button type="submit" class="primary" disabled={busy}>
              {t.driveShareCreate}
            </button>
          </div>
        </>
      ) : (
        <>
          <p class="notice">{t.driveShareMade}</p>
          <CopyField id="drive-share-link" label={t.driveShareLink} value={shareAddress(made)} />
          <CopyField id="drive-share-code" label={t.driveShareCodeLabel} value={made.code} />
          <CopyField
            id="drive-share-both"
            label={t.driveShareLinkWithCode}
            value={`${shareAddress(made)}?pwd=${encodeURIComponent(made.code)}`}
          />
          <div class="dialog-buttons">
            <button type="button" class="primary" onClick={onClose}>
              {t.close}
            </button>
          </div>
        </>
      )}
    </Dialog>
  );
}

/** Save what someone's share link holds into the folder on show: paste
 * the link (its code comes along when the link carries it). */
export function SaveLinkDialog({ drive, onClose }: { drive: Drive; onClose: () => void }) {
  const { t } = usePrefs();
  const [link, setLink] = useState("");
  const [code, setCode] = useState("");
  const { busy, error, run } = useRun();
  const parsed = parseShareLink(link);
  return (
    <Dialog
      id="drive-save-link-title"
      title={t.driveSaveLink}
      onClose={onClose}
      onSubmit={() => parsed !== undefined && run(() => drive.saveShare(parsed.share, code), onClose)}
    >
      <label>
        {t.driveSaveLinkLabel}
        <input
          autoFocus
          autocomplete="off"
          value={link}
          onInput={(e) => {
            const text = e.currentTarget.value;
            setLink(text);
            const found = parseShareLink(text)?.code;
            if (found) setCode(found);
          }}
        />
      </label>
      <label>
        {t.driveShareCodeLabel}
        <input autocomplete="off" maxLength={16} value={code} onInput={(e) => setCode(e.currentTarget.value)} />
      </label>
      <ErrorLine text={error} />
      <div class="dialog-buttons">
        <button type="button" class="link" onClick={onClose}>
          {t.cancel}
        </button>
        <button type="submit" class="primary" disabled={busy || parsed === undefined || code.trim() === ""}>
          {t.driveSaveLinkSubmit}
        </button>
      </div>
    </Dialog>
  );
}

/** Ask before something that cannot be undone. */
export function ConfirmDialog(props: {
  title: string;
  text: string;
  confirm: string;
  onConfirm: () => Promise<unknown>;
  onClose: () => void;
}) {
  const { t } = usePrefs();
  const { busy, error, run } = useRun();
  return (
    <Dialog
      id="drive-confirm-title"
      title={props.title}
      onClose={props.onClose}
      onSubmit={() => run(props.onConfirm, props.onClose)}
    >
      <p>{props.text}</p>
      <ErrorLine text={error} />
      <div class="dialog-buttons">
        <button type="button" class="link" onClick={props.onClose} autoFocus>
          {t.cancel}
        </button>
        <button type="submit" class="primary drive-danger" disabled={busy}>
          {props.confirm}
        </button>
      </div>
    </Dialog>
  );
}
