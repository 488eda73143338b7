//! Requests of the file area that travel over the message connection:
//! listing, describing and deleting files, and signing download URLs. The
//! bytes themselves go over HTTP (`crate::files::http`).

use super::{Handled, Session, answer};
use crate::clock::now_ms;
use magpie_proto::{
    AvatarSet, AvatarSetOk, ErrorBody, FileRef, FileUrl, FilesList, GroupFields, GroupFileDelete,
    GroupFiles, ProfileSet,
};

impl Session {
    pub(super) fn files(&mut self, id: u64, req: FilesList) -> Result<Handled, ErrorBody> {
        let state = self.state.clone();
        let me = self.authed()?.actor.user_id;
        Ok(Handled::Query(answer(id, async move {
            state
                .files
                .list(me, req, state.config.max_frame_bytes)
                .await
        })))
    }

    pub(super) fn file_info(&mut self, id: u64, req: FileRef) -> Result<Handled, ErrorBody> {
        let state = self.state.clone();
        let me = self.authed()?.actor.user_id;
        Ok(Handled::Query(answer(id, async move {
            let file = state.files.readable_by(me, &req.file).await?;
            file.map(|f| crate::files::file_info(&f))
                .ok_or_else(crate::files::unknown_file)
        })))
    }

    pub(super) fn file_delete(&mut self, id: u64, req: FileRef) -> Result<Handled, ErrorBody> {
        let state = self.state.clone();
        let me = self.authed()?.actor.user_id;
        Ok(Handled::Query(answer(id, async move {
            state.files.delete_file(me, &req.file).await?;
            Ok(serde_json::json!({}))
        })))
    }

    pub(super) fn file_url(&mut self, id: u64, req: FileUrl) -> Result<Handled, ErrorBody> {
        let state = self.state.clone();
        let me = self.authed()?.actor.user_id;
        Ok(Handled::Query(answer(id, async move {
            state.files.signed_url(me, &req).await
        })))
    }

    pub(super) fn group_files(&mut self, id: u64, req: GroupFiles) -> Result<Handled, ErrorBody> {
        let state = self.state.clone();
        let me = self.authed()?.actor.user_id;
        Ok(Handled::Query(answer(id, async move {
            state
                .files
                .group_files(me, req, state.config.max_frame_bytes)
                .await
        })))
    }

    pub(super) fn group_file_delete(
        &mut self,
        id: u64,
        req: GroupFileDelete,
    ) -> Result<Handled, ErrorBody> {
        let state = self.state.clone();
        let me = self.authed()?.actor.user_id;
        state.throttle.check_people(me)?;
        Ok(Handled::Query(answer(id, async move {
            state
                .files
                .group_file_delete(me, req.conv, &req.file)
                .await?;
            Ok(serde_json::json!({}))
        })))
    }

    /// `avatar_set`: make the avatar file, point the profile (or the
    /// group, under the group's rules) at it, then drop the one it
    /// replaces. A refused change drops the new file instead.
    pub(super) fn avatar_set(&mut self, id: u64, req: AvatarSet) -> Result<Handled, ErrorBody> {
        let state = self.state.clone();
        let me = self.authed()?.actor.user_id;
        state.throttle.check_people(me)?;
        Ok(Handled::Query(answer(id, async move {
            let made = state.files.make_avatar(me, &req.file, req.conv).await?;
            let avatar = made.id.clone();
            let replaced = match req.conv {
                None => {
                    let old = state
                        .store
                        .profile(me)
                        .await
                        .map_err(crate::error::from_store)?
                        .map(|p| p.avatar);
                    let update = ProfileSet {
                        avatar: Some(avatar.clone()),
                        ..ProfileSet::default()
                    };
                    state
                        .people
                        .set_profile(me, update, now_ms())
                        .await
                        .map(|_| old)
                }
                Some(conv) => {
                    let old = state
                        .store
                        .group_info(conv, me)
                        .await
                        .map_err(crate::error::from_store)?
                        .map(|g| g.avatar);
                    let fields = GroupFields {
                        avatar: Some(avatar.clone()),
                        ..GroupFields::default()
                    };
                    state
                        .groups
                        .set(me, conv, fields, now_ms())
                        .await
                        .map(|_| old)
                }
            };
            match replaced {
                Ok(old) => {
                    if let Some(old) = old.filter(|old| *old != avatar) {
                        state.files.drop_avatar(me, &old, req.conv).await;
                    }
                    Ok(AvatarSetOk { avatar })
                }
                Err(e) => {
                    state.files.drop_avatar(me, &avatar, req.conv).await;
                    Err(e)
                }
            }
        })))
    }
}
