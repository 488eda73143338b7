//! Checks that the web client's bundle (`clients/web/dist`, committed) is
//! there to embed (`src/web.rs`), with a message that says how to make it,
//! and has the crate rebuilt whenever any file in it changes, is added or
//! is removed (the embedding macro alone notices only changes to files it
//! embedded last time).

use std::path::Path;

const DIST: &str = "../../clients/web/dist";

fn main() {
    println!("cargo::rerun-if-changed={DIST}");
    let dist = Path::new(DIST);
    for page in ["index.html", "admin.html"] {
        if !dist.join(page).is_file() {
            panic!(
                "clients/web/dist/{page} is missing: the web client is embedded in the server \
                 and its bundle is committed; restore it (`git checkout -- clients/web/dist`) \
                 or rebuild it: `cd clients/web && npm ci && node build.mjs`"
            );
        }
    }
}
