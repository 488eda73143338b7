//! Requests of the drive: thin calls into [`crate::drive::Drive`]. Changes
//! share the per-user rate of the people area; search shares the search
//! rate (it scans the caller's names).

use super::{Handled, Session, answer, to_value};
use magpie_proto::{ErrorBody, ErrorCode, Request};

impl Session {
    /// Every operation of the drive.
    pub(super) fn drive(&mut self, id: u64, request: Request) -> Result<Handled, ErrorBody> {
        let state = self.state.clone();
        let me = self.authed()?.actor.user_id;
        match &request {
            Request::DriveSearch(_) => state.throttle.check_search(me)?,
            Request::DriveList(_)
            | Request::DriveInfo(_)
            | Request::DriveBin(_)
            | Request::DriveRecent(_)
            | Request::DriveQuota
            | Request::DriveShares(_) => {}
            // A save tries an extraction code: the per-address limit of
            // codes applies as on the HTTP unlock.
            Request::DriveSave(_) => {
                state.throttle.check_people(me)?;
                if let Some(ip) = self.peer_ip {
                    state.throttle.check_share_code(ip)?;
                }
            }
            _ => state.throttle.check_people(me)?,
        }
        let frame = state.config.max_frame_bytes;
        Ok(Handled::Query(answer(id, async move {
            let drive = &state.drive;
            match request {
                Request::DriveList(req) => drive.list(me, req, frame).await.and_then(to_value),
                Request::DriveInfo(req) => drive.info(me, &req.entry).await.and_then(to_value),
                Request::DriveMkdir(req) => drive.mkdir(me, req).await.and_then(to_value),
                Request::DrivePut(req) => drive.put(me, req).await.and_then(to_value),
                Request::DriveRename(req) => drive.rename(me, req).await.and_then(to_value),
                Request::DriveMove(req) => drive.move_entries(me, req).await.and_then(to_value),
                Request::DriveDelete(req) => drive.delete(me, req).await.and_then(empty),
                Request::DriveBin(req) => drive.bin(me, req, frame).await.and_then(to_value),
                Request::DriveRestore(req) => drive.restore(me, req).await.and_then(to_value),
                Request::DrivePurge(req) => drive.purge(me, req).await.and_then(to_value),
                Request::DriveSearch(req) => drive.search(me, req, frame).await.and_then(to_value),
                Request::DriveRecent(req) => drive.recent(me, req).await.and_then(to_value),
                Request::DriveQuota => drive.quota(me).await.and_then(to_value),
                Request::DriveShare(req) => drive.share(me, req).await.and_then(to_value),
                Request::DriveShares(req) => drive.shares(me, req, frame).await.and_then(to_value),
                Request::DriveUnshare(req) => drive.unshare(me, &req.share).await.and_then(empty),
                Request::DriveSave(req) => drive.save(me, req).await.and_then(to_value),
                other => Err(ErrorBody::new(
                    ErrorCode::Internal,
                    format!("{} is not a drive operation", other.op_name()),
                )),
            }
        })))
    }
}

fn empty(_: ()) -> Result<serde_json::Value, ErrorBody> {
    Ok(serde_json::json!({}))
}
