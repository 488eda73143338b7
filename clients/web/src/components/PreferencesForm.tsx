import { LANGUAGES, LANGUAGE_NAMES, type Language, languageTag } from "../i18n";
import type { Preferences } from "../preferences";
import { THEMES, type Theme } from "../theme";

const THEME_KEYS = { system: "themeSystem", light: "themeLight", dark: "themeDark" } as const;

/** The language and theme pickers, each with its label. */
export function PreferencesForm({ prefs }: { prefs: Preferences }) {
  const { t } = prefs;
  return (
    <form class="prefs" aria-label={t.settings} onSubmit={(e) => e.preventDefault()}>
      <label class="field">
        <span class="field-label">{t.language}</span>
        <select value={prefs.lang} onChange={(e) => prefs.setLang(e.currentTarget.value as Language)}>
          {LANGUAGES.map((lang) => (
            <option key={lang} value={lang} lang={languageTag(lang)}>
              {LANGUAGE_NAMES[lang]}
            </option>
          ))}
        </select>
      </label>
      <label class="field">
        <span class="field-label">{t.theme}</span>
        <select value={prefs.theme} onChange={(e) => prefs.setTheme(e.currentTarget.value as Theme)}>
          {THEMES.map((theme) => (
            <option key={theme} value={theme}>
              {t[THEME_KEYS[theme]]}
            </option>
          ))}
        </select>
      </label>
    </form>
  );
}
