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
  signInTitle: "Sign in to Magpie",
  registerTitle: "Create your account",
  username: "Username",
  password: "Password",
  signIn: "Sign in",
  createAccount: "Create account",
  noAccount: "No account? Create one",
  haveAccount: "Have an account? Sign in",
  signOut: "Sign out",
  errInvalidCredentials: "Wrong username or password.",
  errAccountDisabled: "This account is disabled. Ask your administrator.",
  errRegistrationClosed: "Sign-up is closed here: your administrator creates accounts.",
  errUsernameTaken: "That username is taken.",
  errInvalidUsername: "Usernames are 3–32 letters, digits, _ . or -.",
  errInvalidPassword: "Passwords have at least 8 characters.",
  errRateLimited: "Too many attempts. Wait a moment and try again.",
  errOffline: "Cannot reach the server.",
  errUnknownUser: "No such user.",
  errNotAllowed: "This person does not take your messages.",
  errMuted: "You are muted in this group.",
  errTooLong: "The message is too long.",
  errTooManySessions: "Too many open sessions. Close one and try again.",
  errGeneric: "Something went wrong",
  signedOutRevoked: "This device was signed out from another device.",
  signedOutReplaced: "You signed in on another device of this kind.",
  signedOutExpired: "Your session ended. Please sign in again.",
  connecting: "Connecting…",
  syncing: "Updating…",
  reconnecting: "Connection lost. Reconnecting…",
  retryNow: "Retry now",
  noMatches: "No chats match.",
  pinned: "Pinned",
  mentionedYou: "[@you]",
  draft: "Draft",
  unread: "unread",
  recalledAMessage: "recalled a message",
  youRecalled: "You recalled a message",
  kindImage: "Image",
  kindVoice: "Voice",
  kindVideo: "Video",
  kindFile: "File",
  kindRecord: "Chat history",
  kindEvent: "Group update",
  kindUnsupported: "Unsupported message",
  isTyping: "is typing…",
  messages: "Message history",
  edited: "edited",
  read: "Read",
  sent: "Sent",
  sending: "Sending…",
  retry: "Retry",
  delete: "Delete",
  messageLabel: "Message",
  messagePlaceholder: "Write a message",
  send: "Send",
  newChat: "Chat",
  newChatLabel: "Start a chat with a username",
  newChatPlaceholder: "Username to chat with",
  contacts: "Contacts",
  accept: "Accept",
  reject: "Decline",
  cancel: "Cancel",
  addFriend: "Add",
  addFriendLabel: "Add a friend by username",
  requestNote: "Note (optional)",
  requestSent: "Request sent.",
  incomingRequests: "Friend requests",
  outgoingRequests: "Sent requests",
  friends: "Friends",
  noFriends: "No friends yet.",
  online: "Online",
  offline: "Offline",
  errAlreadyFriends: "You are already friends.",
  errNoSuchRequest: "That request is gone.",
  errLimitReached: "A limit is reached.",
  messageActions: "Message actions",
  react: "React with",
  reply: "Reply",
  edit: "Edit",
  recall: "Recall",
  replyingTo: "Replying to",
  editing: "Editing",
  errTooLate: "Too late to change this message.",
  errNotAmendable: "This message cannot be changed.",
  errForbidden: "You may not do that.",
  // files
  attach: "Attach files",
  dropHere: "Drop files to send them",
  uploading: "Uploading",
  pause: "Pause",
  resume: "Resume",
  cancelUpload: "Cancel upload",
  uploadFailed: "Upload failed",
  download: "Download",
  openImage: "Open image",
  closeImage: "Close",
  imageViewer: "Image",
  recordVoice: "Record a voice message",
  stopRecording: "Stop and send",
  cancelRecording: "Cancel recording",
  recording: "Recording",
  voiceMessage: "Voice message",
  videoMessage: "Video",
  micDenied: "The microphone is not available.",
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
  signInTitle: "登录喜鹊",
  registerTitle: "创建账号",
  username: "用户名",
  password: "密码",
  signIn: "登录",
  createAccount: "注册",
  noAccount: "没有账号？注册一个",
  haveAccount: "已有账号？登录",
  signOut: "退出登录",
  errInvalidCredentials: "用户名或密码错误。",
  errAccountDisabled: "此账号已被停用，请联系管理员。",
  errRegistrationClosed: "此服务器不开放注册，请联系管理员创建账号。",
  errUsernameTaken: "该用户名已被占用。",
  errInvalidUsername: "用户名为 3–32 个字母、数字、_ . 或 -。",
  errInvalidPassword: "密码至少 8 个字符。",
  errRateLimited: "尝试次数过多，请稍后再试。",
  errOffline: "无法连接服务器。",
  errUnknownUser: "没有这个用户。",
  errNotAllowed: "对方不接收你的消息。",
  errMuted: "你在此群中被禁言。",
  errTooLong: "消息太长。",
  errTooManySessions: "打开的会话过多，请关闭一个后重试。",
  errGeneric: "出错了",
  signedOutRevoked: "此设备已在其他设备上被退出登录。",
  signedOutReplaced: "你已在另一台同类设备上登录。",
  signedOutExpired: "会话已结束，请重新登录。",
  connecting: "正在连接…",
  syncing: "正在同步…",
  reconnecting: "连接已断开，正在重连…",
  retryNow: "立即重试",
  noMatches: "没有匹配的聊天。",
  pinned: "已置顶",
  mentionedYou: "[有人@我]",
  draft: "草稿",
  unread: "条未读",
  recalledAMessage: "撤回了一条消息",
  youRecalled: "你撤回了一条消息",
  kindImage: "图片",
  kindVoice: "语音",
  kindVideo: "视频",
  kindFile: "文件",
  kindRecord: "聊天记录",
  kindEvent: "群通知",
  kindUnsupported: "暂不支持的消息",
  isTyping: "正在输入…",
  messages: "消息列表",
  edited: "已编辑",
  read: "已读",
  sent: "已发送",
  sending: "发送中…",
  retry: "重试",
  delete: "删除",
  messageLabel: "消息",
  messagePlaceholder: "输入消息",
  send: "发送",
  newChat: "发起",
  newChatLabel: "输入用户名发起聊天",
  newChatPlaceholder: "用户名",
  contacts: "通讯录",
  accept: "接受",
  reject: "拒绝",
  cancel: "取消",
  addFriend: "添加",
  addFriendLabel: "按用户名添加好友",
  requestNote: "验证消息（可选）",
  requestSent: "好友请求已发送。",
  incomingRequests: "新的朋友",
  outgoingRequests: "已发送的请求",
  friends: "好友",
  noFriends: "还没有好友。",
  online: "在线",
  offline: "离线",
  errAlreadyFriends: "你们已经是好友了。",
  errNoSuchRequest: "该请求已不存在。",
  errLimitReached: "已达上限。",
  messageActions: "消息操作",
  react: "回应",
  reply: "回复",
  edit: "编辑",
  recall: "撤回",
  replyingTo: "回复",
  editing: "编辑",
  errTooLate: "已超过可修改的时间。",
  errNotAmendable: "此消息无法修改。",
  errForbidden: "你没有权限这样做。",
  // files
  attach: "添加文件",
  dropHere: "拖放文件即可发送",
  uploading: "正在上传",
  pause: "暂停",
  resume: "继续",
  cancelUpload: "取消上传",
  uploadFailed: "上传失败",
  download: "下载",
  openImage: "查看图片",
  closeImage: "关闭",
  imageViewer: "图片",
  recordVoice: "录制语音消息",
  stopRecording: "停止并发送",
  cancelRecording: "取消录音",
  recording: "正在录音",
  voiceMessage: "语音消息",
  videoMessage: "视频",
  micDenied: "无法使用麦克风。",
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
