// The reader's choices of language and theme, shared by the chat app and
// the admin console: detected at first, then kept in localStorage once
// changed, and applied to <html> (its `lang`, `data-theme`) and the title.

import { useEffect, useState } from "preact/hooks";
import { type Dictionary, type Key, type Language, applyLanguage, dictionary, initialLanguage } from "./i18n";
import { type Theme, applyTheme, initialTheme } from "./theme";

export interface Preferences {
  readonly lang: Language;
  readonly theme: Theme;
  /** The words of the current language. */
  readonly t: Dictionary;
  setLang(lang: Language): void;
  setTheme(theme: Theme): void;
}

/** The preferences, with `title` (a dictionary key) as the document's title. */
export function usePreferences(title: Key): Preferences {
  const [lang, setLangState] = useState<Language>(initialLanguage);
  const [theme, setThemeState] = useState<Theme>(initialTheme);
  const t = dictionary(lang);

  useEffect(() => {
    applyLanguage(lang, false);
    document.title = t[title];
  }, [lang, t, title]);
  useEffect(() => applyTheme(theme, false), [theme]);

  return {
    lang,
    theme,
    t,
    setLang(next) {
      applyLanguage(next, true);
      // At once, like `lang`, rather than after the next paint.
      document.title = dictionary(next)[title];
      setLangState(next);
    },
    setTheme(next) {
      applyTheme(next, true);
      setThemeState(next);
    },
  };
}
