// Light and dark themes. The colours are CSS custom properties
// (styles/base.css); the stylesheet alone follows `prefers-color-scheme`,
// and a choice made here overrides it through `data-theme` on <html>.

import { readStorage, writeStorage } from "./storage";

/** "system" follows the operating system's preference. */
export const THEMES = ["system", "light", "dark"] as const;
export type Theme = (typeof THEMES)[number];

const STORAGE_KEY = "magpie.theme";

function isTheme(value: unknown): value is Theme {
  return (THEMES as readonly unknown[]).includes(value);
}

/** The theme chosen before (kept in localStorage), else the system's. */
export function initialTheme(): Theme {
  const saved = readStorage(STORAGE_KEY);
  return isTheme(saved) ? saved : "system";
}

/** Apply a theme to the document, and remember it. */
export function applyTheme(theme: Theme, save: boolean): void {
  const root = document.documentElement;
  if (theme === "system") {
    delete root.dataset["theme"];
  } else {
    root.dataset["theme"] = theme;
  }
  if (save) writeStorage(STORAGE_KEY, theme);
}
