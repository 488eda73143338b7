// Sending files: the composer's attach and record buttons, dropping files
// on the chat and pasting images, and the pending bubbles of uploads
// (progress, pause or resume, cancel).

import { useEffect, useRef, useState } from "preact/hooks";
import type { Chats } from "../model/chats";
import { targetOf, uploadsOf, type PendingUpload, type Target } from "../model/uploads";
import { usePrefs } from "./context";
import { formatSize } from "./FileMessage";
import { AttachIcon, CloseIcon, MicIcon } from "./icons";

/** Whether an upload belongs to the open conversation. */
function isFor(target: Target, open: Target | undefined): boolean {
  if (open === undefined) return false;
  if ("conv" in target) return "conv" in open && open.conv === target.conv;
  return "peer" in open && open.peer === target.peer;
}

/** Handlers for the chat's section: drop files, paste images. */
export function dropAndPaste(chats: Chats): {
  onDragOver: (e: DragEvent) => void;
  onDrop: (e: DragEvent) => void;
  onPaste: (e: ClipboardEvent) => void;
} {
  const add = (files: File[]) => {
    const target = targetOf(chats);
    if (target !== undefined && files.length > 0) uploadsOf(chats).add(target, files);
  };
  return {
    onDragOver: (e: DragEvent) => {
      if (e.dataTransfer?.types.includes("Files") === true) e.preventDefault();
    },
    onDrop: (e: DragEvent) => {
      const files = [...(e.dataTransfer?.files ?? [])];
      if (files.length === 0) return;
      e.preventDefault();
      add(files);
    },
    onPaste: (e: ClipboardEvent) => {
      const files = [...(e.clipboardData?.files ?? [])];
      if (files.length === 0) return;
      e.preventDefault();
      add(files);
    },
  };
}

/** The composer's paperclip: pick one or several files. */
export function AttachButton({ chats }: { chats: Chats }) {
  const { t } = usePrefs();
  const input = useRef<HTMLInputElement>(null);
  return (
    <>
      <input
        ref={input}
        type="file"
        multiple
        class="visually-hidden"
        tabIndex={-1}
        aria-hidden="true"
        data-testid="attach-input"
        onChange={(e) => {
          const files = [...(e.currentTarget.files ?? [])];
          const target = targetOf(chats);
          if (target !== undefined && files.length > 0) uploadsOf(chats).add(target, files);
          e.currentTarget.value = "";
        }}
      />
      <button
        type="button"
        class="icon attach"
        aria-label={t.attach}
        title={t.attach}
        onClick={() => input.current?.click()}
      >
        <AttachIcon />
      </button>
    </>
  );
}

/** Record a voice message: click to start, click again to send. */
export function VoiceButton({ chats }: { chats: Chats }) {
  const { t } = usePrefs();
  const [recording, setRecording] = useState<{ recorder: MediaRecorder; started: number } | undefined>();
  const [elapsed, setElapsed] = useState(0);
  const cancelled = useRef(false);
  useEffect(() => {
    if (recording === undefined) return;
    const timer = setInterval(() => setElapsed(Date.now() - recording.started), 250);
    return () => clearInterval(timer);
  }, [recording]);
  useEffect(() => () => recording?.recorder.stream.getTracks().forEach((track) => track.stop()), [recording]);
  if (typeof MediaRecorder === "undefined") return null;

  const start = async () => {
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch {
      chats.problem.value = "mic_denied";
      return;
    }
    const mime = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus"].find((m) => MediaRecorder.isTypeSupported(m));
    const recorder = new MediaRecorder(stream, mime !== undefined ? { mimeType: mime } : {});
    const chunks: Blob[] = [];
    cancelled.current = false;
    recorder.ondataavailable = (e) => chunks.push(e.data);
    recorder.onstop = () => {
      stream.getTracks().forEach((track) => track.stop());
      const target = targetOf(chats);
      if (cancelled.current || target === undefined) return;
      const blob = new Blob(chunks, { type: recorder.mimeType || "audio/webm" });
      if (blob.size > 0) uploadsOf(chats).add(target, [blob], "voice");
    };
    recorder.start(250);
    setElapsed(0);
    setRecording({ recorder, started: Date.now() });
  };
  const stop = (cancel: boolean) => {
    cancelled.current = cancel;
    recording?.recorder.stop();
    setRecording(undefined);
  };

  if (recording === undefined) {
    return (
      <button type="button" class="icon voice" aria-label={t.recordVoice} title={t.recordVoice} onClick={start}>
        <MicIcon />
      </button>
    );
  }
  return (
    <span class="recording" role="status">
      <span class="recording-dot" aria-hidden="true" />
      {t.recording} {Math.floor(elapsed / 1000)}s
      <button type="button" class="link" aria-label={t.cancelRecording} onClick={() => stop(true)}>
        <CloseIcon />
      </button>
      <button type="button" class="primary" onClick={() => stop(false)}>
        {t.stopRecording}
      </button>
    </span>
  );
}

/** The open conversation's uploads, as pending bubbles. */
export function PendingUploads({ chats }: { chats: Chats }) {
  const uploads = uploadsOf(chats);
  const open = targetOf(chats);
  const mine = uploads.pending.value.filter((p) => isFor(p.target, open));
  return (
    <>
      {mine.map((p) => (
        <PendingUploadItem key={p.key} upload={p} chats={chats} />
      ))}
    </>
  );
}

function PendingUploadItem({ upload, chats }: { upload: PendingUpload; chats: Chats }) {
  const { t } = usePrefs();
  const uploads = uploadsOf(chats);
  const percent = upload.size === 0 ? 100 : Math.floor((upload.sent / upload.size) * 100);
  return (
    <div class={`message mine pending upload${upload.status === "failed" ? " failed" : ""}`} data-upload={upload.key}>
      <div class="bubble file-card">
        <p class="file-name" dir="auto">
          {upload.name}
        </p>
        <progress max={100} value={percent} aria-label={`${t.uploading} ${upload.name}`}>
          {percent}%
        </progress>
        <p class="meta">
          <span class="file-size">
            {formatSize(upload.sent)} / {formatSize(upload.size)}
          </span>{" "}
          {upload.status === "failed" && (
            <span class="error" role="alert">
              {t.uploadFailed}
            </span>
          )}{" "}
          {upload.status === "uploading" && (
            <button type="button" class="link" onClick={() => uploads.pause(upload.key)}>
              {t.pause}
            </button>
          )}
          {(upload.status === "paused" || upload.status === "failed") && (
            <button type="button" class="link" onClick={() => uploads.resume(upload.key)}>
              {t.resume}
            </button>
          )}{" "}
          <button type="button" class="link" aria-label={t.cancelUpload} onClick={() => uploads.cancel(upload.key)}>
            <CloseIcon />
          </button>
        </p>
      </div>
    </div>
  );
}
