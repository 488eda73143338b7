// The interface's own icons, drawn as inline SVG in the text colour, so
// they show the same everywhere: emoji used as controls render as empty
// boxes where no emoji font is installed. Each is decoration only
// (aria-hidden): the button around it carries the accessible name.

import type { ComponentChildren } from "preact";

function Icon({ children, filled = false }: { children: ComponentChildren; filled?: boolean }) {
  return (
    <svg
      class="svg-icon"
      width="20"
      height="20"
      viewBox="0 0 24 24"
      fill={filled ? "currentColor" : "none"}
      stroke={filled ? "none" : "currentColor"}
      stroke-width="2"
      stroke-linecap="round"
      stroke-linejoin="round"
      aria-hidden="true"
      focusable="false"
    >
      {children}
    </svg>
  );
}

/** A paperclip: attach files. */
export function AttachIcon() {
  return (
    <Icon>
      <path d="M21 11.5 12.5 20a5 5 0 0 1-7-7L14 4.5a3.3 3.3 0 0 1 4.7 4.7l-8.5 8.5a1.7 1.7 0 0 1-2.4-2.4L15.5 7.6" />
    </Icon>
  );
}

/** A microphone: record a voice message. */
export function MicIcon() {
  return (
    <Icon>
      <rect x="9" y="3" width="6" height="11" rx="3" />
      <path d="M5 11a7 7 0 0 0 14 0M12 18v3M9 21h6" />
    </Icon>
  );
}

/** A cross: close or cancel. */
export function CloseIcon() {
  return (
    <Icon>
      <path d="M6 6l12 12M18 6 6 18" />
    </Icon>
  );
}

/** Three dots: more actions. */
export function MoreIcon() {
  return (
    <Icon filled>
      <circle cx="5" cy="12" r="2" />
      <circle cx="12" cy="12" r="2" />
      <circle cx="19" cy="12" r="2" />
    </Icon>
  );
}

/** A chevron pointing back (mirrored in right-to-left text by CSS). */
export function BackIcon() {
  return (
    <Icon>
      <path d="M15 5l-7 7 7 7" />
    </Icon>
  );
}

/** A curved arrow: forward. */
export function ForwardIcon() {
  return (
    <Icon>
      <path d="M14 5l7 6-7 6M21 11h-9a8 8 0 0 0-8 8" />
    </Icon>
  );
}

/** Stacked lines: a chat record. */
export function RecordIcon() {
  return (
    <Icon>
      <rect x="4" y="3" width="16" height="18" rx="2" />
      <path d="M8 8h8M8 12h8M8 16h5" />
    </Icon>
  );
}

/** A sheet with a folded corner: a file. */
export function FileIcon() {
  return (
    <Icon>
      <path d="M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z" />
      <path d="M14 3v5h5" />
    </Icon>
  );
}

/** A pushpin: a pinned chat. */
export function PinIcon() {
  return (
    <Icon>
      <path d="M9 3h6l-1 6 4 4H6l4-4zM12 13v8" />
    </Icon>
  );
}

/** A folder. */
export function FolderIcon() {
  return (
    <Icon>
      <path d="M3 7a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z" />
    </Icon>
  );
}

/** A picture: an image. */
export function ImageIcon() {
  return (
    <Icon>
      <rect x="3" y="4" width="18" height="16" rx="2" />
      <circle cx="9" cy="10" r="2" />
      <path d="M21 17l-5-5-9 8" />
    </Icon>
  );
}

/** A film frame: a video. */
export function VideoIcon() {
  return (
    <Icon>
      <rect x="3" y="5" width="13" height="14" rx="2" />
      <path d="M16 10l5-3v10l-5-3" />
    </Icon>
  );
}

/** A note: audio. */
export function AudioIcon() {
  return (
    <Icon>
      <path d="M9 18V5l11-2v13" />
      <circle cx="6" cy="18" r="3" />
      <circle cx="17" cy="16" r="3" />
    </Icon>
  );
}
