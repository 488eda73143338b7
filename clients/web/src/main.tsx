// The chat app, served at / by `magpie serve` (see build.mjs and
// crates/magpie-server/src/web.rs): restore the stored session from the
// local cache, then render.

import { render } from "preact";
import { restore } from "./model/session";
import { App } from "./views/App";
import "./styles/index.css";

const root = document.getElementById("app");
if (root !== null) render(<App />, root);
void restore();
