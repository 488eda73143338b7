// The interface's words, in English and Chinese. `en` defines the keys;
// `zh` is typed by them, so a key missing from it, or one it has that `en`
// lacks, fails the type check (`npx tsc -p .`).

import { readStorage, writeStorage } from "./storage";

const en = {
  productName: "Magpie",
  adminTitle: "Magpie admin console",
  adminName: "Admin console",
  chats: "Chats",
  searchLabel: "Search chats",
  searchPlaceholder: "Search",
  noChats: "No chats yet.",
  pickChat: "Select a chat to start messaging.",
  settings: "Settings",
  language: "Language",
  theme: "Theme",
  themeSystem: "System",
  themeLight: "Light",
  themeDark: "Dark",
  back: "Back",
  navigation: "Navigation",
  overview: "Overview",
  users: "Users",
  groups: "Groups",
  files: "Files",
  adminWelcome: "Server administration will appear here.",
} satisfies Record<string, string>;

/** A key of the dictionary. */
export type Key = keyof typeof en;
/** Every key, each with its words. */
export type Dictionary = { readonly [K in Key]: string };

const zh: Dictionary = {
  productName: "喜鹊",
  adminTitle: "喜鹊管理控制台",
  adminName: "管理控制台",
  chats: "聊天",
  searchLabel: "搜索聊天",
  searchPlaceholder: "搜索",
  noChats: "还没有聊天。",
  pickChat: "选择一个聊天开始发消息。",
  settings: "设置",
  language: "语言",
  theme: "主题",
  themeSystem: "跟随系统",
  themeLight: "浅色",
  themeDark: "深色",
  back: "返回",
  navigation: "导航",
  overview: "概览",
  users: "用户",
  groups: "群组",
  files: "文件",
  adminWelcome: "服务器管理功能将显示在这里。",
};

/** The languages of the interface. */
export const LANGUAGES = ["en", "zh"] as const;
export type Language = (typeof LANGUAGES)[number];

/** Each language's name in itself, for the language picker. */
export const LANGUAGE_NAMES: { readonly [L in Language]: string } = {
  en: "English",
  zh: "中文",
};

const DICTIONARIES: { readonly [L in Language]: Dictionary } = { en, zh };

/** The words of a language. */
export function dictionary(lang: Language): Dictionary {
  return DICTIONARIES[lang];
}

/** The BCP 47 tag for the `lang` attribute. */
export function languageTag(lang: Language): string {
  return lang === "zh" ? "zh-CN" : "en";
}

const STORAGE_KEY = "magpie.language";

function isLanguage(value: unknown): value is Language {
  return (LANGUAGES as readonly unknown[]).includes(value);
}

/** The first of the browser's preferred languages that we have, else English. */
export function detectLanguage(preferred: readonly string[]): Language {
  for (const tag of preferred) {
    const primary = tag.toLowerCase().split("-")[0];
    if (isLanguage(primary)) return primary;
  }
  return "en";
}

/** The language chosen before (kept in localStorage), else the browser's. */
export function initialLanguage(): Language {
  const saved = readStorage(STORAGE_KEY);
  if (isLanguage(saved)) return saved;
  const preferred = navigator.languages?.length ? navigator.languages : [navigator.language];
  return detectLanguage(preferred);
}

/** Remember the chosen language and mark the document with it. */
export function applyLanguage(lang: Language, save: boolean): void {
  document.documentElement.lang = languageTag(lang);
  if (save) writeStorage(STORAGE_KEY, lang);
}
