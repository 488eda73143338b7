// The personal drive: its sections and the quota in the sidebar, and in
// the main pane a folder (breadcrumbs, new folder, uploads, the list with
// each entry's actions), recent files, search results, the bin and my
// share links. Names are only ever text.

import { useEffect, useRef, useState } from "preact/hooks";
import type { DriveEntry } from "magpie-client";
import type { Chats } from "../model/chats";
import { driveOf, type Drive, type DriveView, type SortKey } from "../model/drive";
import { signedUrl } from "../model/uploads";
import { usePrefs } from "./context";
import { ConfirmDialog, MoveDialog, NameDialog, SaveLinkDialog, ShareDialog } from "./DriveDialogs";
import { dateTime, DriveBin, driveErrorText, DriveShares, DriveTableHead, DriveUploads, KindIcon } from "./DriveParts";
import { formatSize } from "./FileMessage";
import { MoreIcon } from "./icons";
import { fill } from "../i18n";

/** The sidebar while the Drive tab is chosen: its sections and the quota. */
export function DriveNav({ chats }: { chats: Chats }) {
  const { t } = usePrefs();
  const drive = driveOf(chats);
  const view = drive.view.value;
  // Coming back to the tab reads what is on show afresh (changes kept it
  // current meanwhile, but not what they do not carry: a moved folder's
  // contents, the quota freed by the background purge).
  useEffect(() => void drive.reload(), [drive]);
  const sections: [DriveView, string][] = [
    [{ kind: "folder" }, t.driveMine],
    [{ kind: "recent" }, t.driveRecent],
    [{ kind: "shares" }, t.driveShares],
    [{ kind: "bin" }, t.driveBin],
  ];
  return (
    <div class="drive-nav">
      <ul class="nav" aria-label={t.driveSections}>
        {sections.map(([section, label]) => (
          <li key={section.kind}>
            <button
              type="button"
              class="nav-item"
              aria-current={view.kind === section.kind ? "page" : undefined}
              onClick={() => void (section.kind === "folder" ? drive.openFolder(undefined) : drive.show(section))}
            >
              {label}
            </button>
          </li>
        ))}
      </ul>
      <QuotaBar drive={drive} />
    </div>
  );
}

function QuotaBar({ drive }: { drive: Drive }) {
  const { t } = usePrefs();
  const quota = drive.quota.value;
  if (quota === undefined) return null;
  const text = fill(t.driveQuotaUsed, { used: formatSize(quota.used), limit: formatSize(quota.limit) });
  return (
    <div class="drive-quota" data-used={quota.used}>
      <label for="drive-quota-bar">{t.driveQuota}</label>
      <progress id="drive-quota-bar" max={quota.limit} value={quota.used} aria-valuetext={text} />
      <span class="drive-quota-text">{text}</span>
    </div>
  );
}

type Dialog =
  | { kind: "mkdir" }
  | { kind: "rename"; entry: DriveEntry }
  | { kind: "move"; entry: DriveEntry }
  | { kind: "share"; entry: DriveEntry }
  | { kind: "saveLink" }
  | { kind: "emptyBin" };

/** The main pane while the Drive tab is chosen. */
export function DrivePane({ chats }: { chats: Chats }) {
  const { t } = usePrefs();
  const drive = driveOf(chats);
  const view = drive.view.value;
  const [dialog, setDialog] = useState<Dialog | undefined>(undefined);
  const [query, setQuery] = useState(view.kind === "search" ? view.query : "");
  const problem = drive.problem.value;
  const title =
    view.kind === "recent"
      ? t.driveRecent
      : view.kind === "search"
        ? fill(t.driveSearchResults, { query: view.query })
        : view.kind === "bin"
          ? t.driveBin
          : view.kind === "shares"
            ? t.driveShares
            : t.driveMine;

  return (
    <section
      class="drive"
      aria-label={t.drive}
      onDragOver={(e) => {
        if (view.kind === "folder" && e.dataTransfer?.types.includes("Files") === true) e.preventDefault();
      }}
      onDrop={(e) => {
        const files = [...(e.dataTransfer?.files ?? [])];
        if (view.kind !== "folder" || files.length === 0) return;
        e.preventDefault();
        drive.upload(files);
      }}
    >
      <header class="main-header drive-header">
        <button type="button" class="icon back" aria-label={t.back} onClick={() => (drive.paneOpen.value = false)}>
          ‹
        </button>
        <h2 dir="auto">{title}</h2>
        <form
          class="drive-search"
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            if (query.trim() !== "") void drive.show({ kind: "search", query: query.trim() });
          }}
        >
          <label class="visually-hidden" for="drive-search">
            {t.driveSearchLabel}
          </label>
          <input
            id="drive-search"
            type="search"
            maxLength={100}
            autocomplete="off"
            placeholder={t.driveSearchPlaceholder}
            value={query}
            onInput={(e) => setQuery(e.currentTarget.value)}
          />
          <button type="submit">{t.driveSearch}</button>
        </form>
      </header>
      {problem !== undefined && (
        <p class="toast drive-problem" role="alert">
          {driveErrorText(t, problem)}
        </p>
      )}
      <div class="drive-body">
        {view.kind === "folder" && <FolderToolbar drive={drive} onDialog={setDialog} />}
        {view.kind === "folder" && <DriveUploads drive={drive} />}
        {view.kind === "bin" ? (
          <DriveBin drive={drive} onEmpty={() => setDialog({ kind: "emptyBin" })} />
        ) : view.kind === "shares" ? (
          <DriveShares drive={drive} />
        ) : (
          <EntryTable drive={drive} onDialog={setDialog} />
        )}
      </div>
      {dialog?.kind === "mkdir" && (
        <NameDialog
          title={t.driveNewFolder}
          label={t.driveFolderName}
          initial=""
          submit={t.create}
          onSubmit={(name) => drive.mkdir(name)}
          onClose={() => setDialog(undefined)}
        />
      )}
      {dialog?.kind === "rename" && (
        <NameDialog
          title={fill(t.driveRenameTitle, { name: dialog.entry.name })}
          label={t.driveNewName}
          initial={dialog.entry.name}
          submit={t.driveRename}
          onSubmit={(name) => drive.rename(dialog.entry, name)}
          onClose={() => setDialog(undefined)}
        />
      )}
      {dialog?.kind === "move" && (
        <MoveDialog drive={drive} entry={dialog.entry} onClose={() => setDialog(undefined)} />
      )}
      {dialog?.kind === "share" && (
        <ShareDialog drive={drive} entry={dialog.entry} onClose={() => setDialog(undefined)} />
      )}
      {dialog?.kind === "saveLink" && <SaveLinkDialog drive={drive} onClose={() => setDialog(undefined)} />}
      {dialog?.kind === "emptyBin" && (
        <ConfirmDialog
          title={t.driveEmptyBin}
          text={t.driveEmptyBinConfirm}
          confirm={t.drivePurge}
          onConfirm={() => drive.purge()}
          onClose={() => setDialog(undefined)}
        />
      )}
    </section>
  );
}

/** Breadcrumbs, new folder, upload and the order of the list. */
function FolderToolbar({ drive, onDialog }: { drive: Drive; onDialog: (dialog: Dialog) => void }) {
  const { t } = usePrefs();
  const input = useRef<HTMLInputElement>(null);
  const path = drive.path.value;
  return (
    <div class="drive-toolbar">
      <nav class="drive-crumbs" aria-label={t.driveMine}>
        <ol>
          <li>
            <button type="button" class="link" onClick={() => void drive.openFolder(undefined)}>
              {t.driveMine}
            </button>
          </li>
          {path.map((crumb, i) => (
            <li key={crumb.id}>
              {i === path.length - 1 ? (
                <span aria-current="page" dir="auto">
                  {crumb.name}
                </span>
              ) : (
                <button type="button" class="link" dir="auto" onClick={() => void drive.openFolder(crumb.id)}>
                  {crumb.name}
                </button>
              )}
            </li>
          ))}
        </ol>
      </nav>
      <div class="drive-actions">
        <button type="button" onClick={() => onDialog({ kind: "mkdir" })}>
          {t.driveNewFolder}
        </button>
        <button type="button" onClick={() => onDialog({ kind: "saveLink" })}>
          {t.driveSaveLink}
        </button>
        <input
          ref={input}
          type="file"
          multiple
          class="visually-hidden"
          tabIndex={-1}
          aria-hidden="true"
          data-testid="drive-upload-input"
          onChange={(e) => {
            const files = [...(e.currentTarget.files ?? [])];
            if (files.length > 0) drive.upload(files);
            e.currentTarget.value = "";
          }}
        />
        <button type="button" class="primary" onClick={() => input.current?.click()}>
          {t.driveUpload}
        </button>
        <label class="drive-sort">
          <span class="visually-hidden">{t.driveSortBy}</span>
          <select value={drive.sort.value} onChange={(e) => (drive.sort.value = e.currentTarget.value as SortKey)}>
            <option value="name">{t.driveSortName}</option>
            <option value="size">{t.driveSortSize}</option>
            <option value="time">{t.driveSortTime}</option>
          </select>
        </label>
      </div>
    </div>
  );
}

/** A folder's entries, recent files or search hits. */
function EntryTable({ drive, onDialog }: { drive: Drive; onDialog: (dialog: Dialog) => void }) {
  const { t, lang } = usePrefs();
  const [menuFor, setMenuFor] = useState<string | undefined>(undefined);
  const view = drive.view.value.kind;
  const entries = drive.sorted.value;
  if (entries.length === 0) {
    if (drive.loading.value) return <p class="empty">{t.loading}</p>;
    return (
      <p class="empty">
        {view === "folder" ? t.driveEmptyFolder : view === "recent" ? t.driveNoRecent : t.driveNoResults}
      </p>
    );
  }
  return (
    <>
      <table class="drive-table">
        <DriveTableHead time={t.driveModified} />
        <tbody>
          {entries.map((entry) => (
            <tr key={entry.id} data-entry={entry.id} class={`drive-row drive-${entry.kind}`}>
              <td class="drive-name-cell">
                <KindIcon entry={entry} />
                {entry.kind === "folder" ? (
                  <button
                    type="button"
                    class="link drive-name"
                    dir="auto"
                    onClick={() => void drive.openFolder(entry.id)}
                  >
                    {entry.name}
                  </button>
                ) : (
                  <span class="drive-name" dir="auto">
                    {entry.name}
                  </span>
                )}
              </td>
              <td class="drive-size">{entry.kind === "file" ? formatSize(entry.size) : "—"}</td>
              <td class="drive-time">{dateTime(entry.updated_at, lang)}</td>
              <td class="drive-row-actions">
                <button
                  type="button"
                  class="more drive-more"
                  aria-haspopup="menu"
                  aria-label={fill(t.driveActionsFor, { name: entry.name })}
                  aria-expanded={menuFor === entry.id}
                  onClick={() => setMenuFor(menuFor === entry.id ? undefined : entry.id)}
                >
                  <MoreIcon />
                </button>
                {menuFor === entry.id && (
                  <EntryMenu
                    drive={drive}
                    entry={entry}
                    elsewhere={view !== "folder"}
                    onClose={() => setMenuFor(undefined)}
                    onDialog={onDialog}
                  />
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {drive.next.value !== undefined && (
        <button type="button" class="link drive-more-rows" onClick={() => void drive.loadMore()}>
          {t.driveLoadMore}
        </button>
      )}
    </>
  );
}

/** One entry's actions. Esc or a click elsewhere closes it. */
function EntryMenu({
  drive,
  entry,
  elsewhere,
  onClose,
  onDialog,
}: {
  drive: Drive;
  entry: DriveEntry;
  /** Listed outside its folder (recent, search): offer to show it there. */
  elsewhere: boolean;
  onClose: () => void;
  onDialog: (dialog: Dialog) => void;
}) {
  const { t } = usePrefs();
  const menu = useRef<HTMLDivElement>(null);
  const url = useSignedDownload(drive, entry);
  useEffect(() => {
    menu.current?.querySelector<HTMLElement>("[role=menuitem]")?.focus();
    const away = (e: MouseEvent) => {
      if (!(e.target instanceof Node) || menu.current?.parentElement?.contains(e.target) !== true) onClose();
    };
    document.addEventListener("mousedown", away);
    return () => document.removeEventListener("mousedown", away);
  }, []);
  const item = (label: string, run: () => void) => (
    <button
      type="button"
      role="menuitem"
      onClick={() => {
        onClose();
        run();
      }}
    >
      {label}
    </button>
  );
  return (
    <div
      ref={menu}
      class="menu menu-down drive-menu"
      role="menu"
      onKeyDown={(e) => {
        if (e.key !== "Escape") return;
        // Back to the button that opened the menu, for the keyboard.
        menu.current?.parentElement?.querySelector<HTMLElement>(".drive-more")?.focus();
        onClose();
      }}
    >
      {entry.kind === "file" && url !== undefined && entry.file !== undefined && (
        <a role="menuitem" class="drive-download" href={url} download={entry.file.name} onClick={onClose}>
          {t.driveDownload}
        </a>
      )}
      {elsewhere && item(t.driveShowInFolder, () => void drive.openFolder(entry.parent))}
      {item(t.driveRename, () => onDialog({ kind: "rename", entry }))}
      {item(t.driveMove, () => onDialog({ kind: "move", entry }))}
      {item(t.driveShare, () => onDialog({ kind: "share", entry }))}
      {item(t.driveDelete, () => drive.attempt((d) => d.trash([entry])))}
    </div>
  );
}

/** A signed download URL of a file entry (signed when its menu opens, not
 * for every row of a long folder). */
function useSignedDownload(drive: Drive, entry: DriveEntry): string | undefined {
  const [url, setUrl] = useState<string | undefined>(undefined);
  const file = entry.file?.id;
  useEffect(() => {
    if (file === undefined) return;
    let live = true;
    signedUrl(drive.client, file).then(
      (u) => live && setUrl(u),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [file]);
  return url;
}
