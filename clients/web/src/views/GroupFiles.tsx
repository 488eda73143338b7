// A group's files (群文件) in its panel: every file sent into it, newest
// first, a page at a time, with its size, who shared it and when; each
// downloads through a signed URL, and its sender or the owner and admins
// may take it out of the group's files (the message stays).

import { useEffect, useState } from "preact/hooks";
import type { FileInfo, MagpieClient } from "magpie-client";
import type { Chats } from "../model/chats";
import { signedUrl } from "../model/uploads";
import { usePrefs } from "./context";
import { FILE_KINDS, formatSize } from "./FileMessage";
import { ConfirmStep } from "./GroupCommon";
import { shortTime } from "./text";
import { FileIcon } from "./icons";
import { fill } from "../i18n";

export function GroupFiles({
  chats,
  conv,
  manager,
  onProblem,
}: {
  chats: Chats;
  conv: number;
  manager: boolean;
  onProblem: (error: unknown) => void;
}) {
  const { t } = usePrefs();
  const [files, setFiles] = useState<readonly FileInfo[] | undefined>(undefined);
  const [next, setNext] = useState<number | undefined>(undefined);
  // A file sent while the panel is open shows up: the newest file message
  // on screen is what the first page is loaded for.
  const newest = chats
    .thread(conv)
    .messages.value.filter((m) => FILE_KINDS.has(m.kind))
    .slice(-1)[0]?.seq;
  useEffect(() => {
    let live = true;
    chats.groups.files(conv).then((page) => {
      if (!live) return;
      setFiles(page.files);
      setNext(page.next);
    }, onProblem);
    return () => {
      live = false;
    };
  }, [chats, conv, newest]);

  const more = () => {
    if (next === undefined) return;
    chats.groups.files(conv, next).then((page) => {
      setFiles([...(files ?? []), ...page.files.filter((f) => !(files ?? []).some((g) => g.id === f.id))]);
      setNext(page.next);
    }, onProblem);
  };
  const remove = (file: FileInfo) =>
    chats.groups
      .deleteFile(conv, file.id)
      .then(() => setFiles((files ?? []).filter((f) => f.id !== file.id)), onProblem);

  return (
    <section class="group-files" aria-labelledby="group-files-title">
      <h4 class="section-title" id="group-files-title">
        {t.groupFiles}
      </h4>
      {files === undefined ? (
        <p class="empty">{t.loading}</p>
      ) : files.length === 0 ? (
        <p class="empty">{t.noGroupFiles}</p>
      ) : (
        <ul class="group-file-list">
          {files.map((file) => (
            <GroupFileRow
              key={file.id}
              chats={chats}
              conv={conv}
              file={file}
              mayDelete={manager || file.owner === chats.groups.myId}
              onDelete={() => void remove(file)}
            />
          ))}
        </ul>
      )}
      {next !== undefined && (
        <button type="button" class="link" onClick={more}>
          {t.moreFiles}
        </button>
      )}
    </section>
  );
}

function GroupFileRow({
  chats,
  conv,
  file,
  mayDelete,
  onDelete,
}: {
  chats: Chats;
  conv: number;
  file: FileInfo;
  mayDelete: boolean;
  onDelete: () => void;
}) {
  const { t, lang } = usePrefs();
  const [confirming, setConfirming] = useState(false);
  const url = useSignedUrl(chats.client, file.id);
  const sharer = chats.groups.of(conv).members.value.find((m) => m.user_id === file.owner);
  return (
    <li class="group-file" data-file={file.id}>
      <span class="file-icon" aria-hidden="true">
        <FileIcon />
      </span>
      <span class="group-file-text">
        <span class="file-name" dir="auto">
          {file.name}
        </span>
        <span class="group-file-meta">
          {formatSize(file.size)} ·{" "}
          <span class="group-file-sharer" dir="auto">
            {sharer !== undefined ? chats.groups.memberName(conv, sharer.user) : t.formerMember}
          </span>{" "}
          · <time dateTime={new Date(file.created_at).toISOString()}>{shortTime(file.created_at, lang)}</time>
        </span>
      </span>
      <span class="group-file-actions">
        {url !== undefined && (
          <a class="file-download" href={url} download={file.name} aria-label={`${t.download} ${file.name}`}>
            {t.download}
          </a>
        )}
        {mayDelete && (
          <button type="button" class="link" aria-expanded={confirming} onClick={() => setConfirming(!confirming)}>
            {t.deleteFile}
          </button>
        )}
      </span>
      {confirming && (
        <ConfirmStep
          question={fill(t.confirmDeleteFile, { name: file.name })}
          confirm={t.deleteFile}
          onConfirm={() => {
            setConfirming(false);
            onDelete();
          }}
          onCancel={() => setConfirming(false)}
        />
      )}
    </li>
  );
}

/** A signed download URL for a file, once signed (the token never goes
 * into a URL). */
function useSignedUrl(client: MagpieClient, file: string): string | undefined {
  const [url, setUrl] = useState<string | undefined>(undefined);
  useEffect(() => {
    let live = true;
    signedUrl(client, file).then(
      (signed) => live && setUrl(signed),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [client, file]);
  return url;
}
