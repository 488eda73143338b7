// The root: the sign-in screen or the chats, under the reader's language
// and theme.

import { chats, restoring } from "../model/session";
import { usePreferences } from "../preferences";
import { ChatApp } from "./ChatApp";
import { PreferencesContext } from "./context";
import { SignIn } from "./SignIn";

export function App() {
  const prefs = usePreferences("productName");
  const model = chats.value;
  return (
    <PreferencesContext.Provider value={prefs}>
      {restoring.value ? null : model !== undefined ? <ChatApp chats={model} /> : <SignIn />}
    </PreferencesContext.Provider>
  );
}
