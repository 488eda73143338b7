//! Requests of the file area that travel over the message connection:
//! listing, describing and deleting files, and signing download URLs. The
//! bytes themselves go over HTTP (`crate::files::http`).

use super::{Handled, Session, answer};
use magpie_proto::{ErrorBody, FileRef, FileUrl, FilesList, GroupFileDelete, GroupFiles};

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
}
