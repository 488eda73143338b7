// The preferences (language, theme, words) for every view, without
// passing them through each component.

import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Preferences } from "../preferences";

export const PreferencesContext = createContext<Preferences | undefined>(undefined);

export function usePrefs(): Preferences {
  const prefs = useContext(PreferencesContext);
  if (prefs === undefined) throw new Error("PreferencesContext is not provided");
  return prefs;
}
