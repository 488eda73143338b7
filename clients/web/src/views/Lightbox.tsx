// An image at full size over the page: a modal dialog that Esc, the close
// button or a click outside the image closes, giving focus back.

import { useEffect, useRef, useState } from "preact/hooks";
import type { FileInfo, MagpieClient } from "magpie-client";
import { signedUrl } from "../model/uploads";
import { usePrefs } from "./context";
import { CloseIcon } from "./icons";

export function Lightbox({ file, client, onClose }: { file: FileInfo; client: MagpieClient; onClose: () => void }) {
  const { t } = usePrefs();
  const [url, setUrl] = useState<string | undefined>(undefined);
  const close = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    let live = true;
    signedUrl(client, file.id).then(
      (u) => live && setUrl(u),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [client, file.id]);
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    close.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        onClose();
      }
    };
    document.addEventListener("keydown", onKey, true);
    return () => {
      document.removeEventListener("keydown", onKey, true);
      before?.focus();
    };
  }, [onClose]);
  return (
    <div
      class="lightbox"
      role="dialog"
      aria-modal="true"
      aria-label={`${t.imageViewer}: ${file.name}`}
      onClick={(e) => {
        if (e.target === e.currentTarget) onClose();
      }}
    >
      <button ref={close} type="button" class="lightbox-close" aria-label={t.closeImage} onClick={onClose}>
        <CloseIcon />
      </button>
      {url !== undefined && <img src={url} alt={file.name} />}
      <p class="lightbox-name" dir="auto">
        {file.name}
      </p>
    </div>
  );
}
