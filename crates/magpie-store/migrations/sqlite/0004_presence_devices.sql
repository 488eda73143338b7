-- Presence: the status a user chose (0 online, 1 away, 2 busy,
-- 3 invisible) and its text. Whether they are connected is not stored:
-- it lives with the connections (the router, and Redis in a cluster), so
-- a crash can never leave anyone shown online.
ALTER TABLE users ADD COLUMN presence INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN presence_text TEXT NOT NULL DEFAULT '';

-- Devices: each token is one signed-in device. platform: 1 desktop,
-- 2 mobile, 3 web, 4 cli, 5 bot. last_seen: the last login, resume or
-- disconnect with this token (ms since the epoch).
ALTER TABLE tokens ADD COLUMN platform INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tokens ADD COLUMN last_seen INTEGER NOT NULL DEFAULT 0;
