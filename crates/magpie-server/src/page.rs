//! Paging rules shared by every list a response carries: a count limit
//! the client may choose within bounds, and a byte budget that keeps the
//! whole response within one frame whatever the rows contain.

use crate::error::invalid_args;
use magpie_proto::ErrorBody;
use serde::Serialize;

/// Room left in a response frame for its envelope (`{"id":..,"result":{..}}`
/// and the fields beside the list).
const ENVELOPE_RESERVE: usize = 1024;

/// The exact size of a value's JSON encoding.
pub fn encoded_len<T: Serialize>(value: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Counting cannot fail; a failure would only undercount by nothing.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// Keeps a page within the response frame limit. The first row always
/// fits: configuration guarantees that one worst-case message fits a
/// frame, and every other kind of row is smaller.
#[derive(Debug)]
pub struct ByteBudget {
    left: usize,
    taken: usize,
}

impl ByteBudget {
    pub fn new(max_frame_bytes: usize) -> ByteBudget {
        ByteBudget {
            left: max_frame_bytes.saturating_sub(ENVELOPE_RESERVE),
            taken: 0,
        }
    }

    /// One page from `rows`, fetched with one row beyond `limit` so that
    /// its presence tells whether more exist: the first rows that fit
    /// within `limit` and this budget, and whether more rows follow.
    pub fn page<T: Serialize>(&mut self, rows: Vec<T>, limit: u32) -> (Vec<T>, bool) {
        let limit = limit as usize;
        let mut more = rows.len() > limit;
        let mut page = Vec::with_capacity(rows.len().min(limit));
        for row in rows.into_iter().take(limit) {
            if !self.take(&row) {
                more = true;
                break;
            }
            page.push(row);
        }
        (page, more)
    }

    /// [`ByteBudget::page`] for a list paged by a key: the page, and
    /// the cursor to continue after (`key` of its last row) when more
    /// rows follow.
    pub fn page_after<T: Serialize, K>(
        &mut self,
        rows: Vec<T>,
        limit: u32,
        key: impl Fn(&T) -> K,
    ) -> (Vec<T>, Option<K>) {
        let (page, more) = self.page(rows, limit);
        let next = if more { page.last().map(key) } else { None };
        (page, next)
    }

    /// [`ByteBudget::page`] for a list paged by offset (`rows` read from
    /// `offset`): the page, and the offset of the next page when more
    /// rows follow.
    pub fn page_at<T: Serialize>(
        &mut self,
        rows: Vec<T>,
        limit: u32,
        offset: u32,
    ) -> (Vec<T>, Option<u32>) {
        let (page, more) = self.page(rows, limit);
        let next =
            more.then(|| offset.saturating_add(u32::try_from(page.len()).unwrap_or(u32::MAX)));
        (page, next)
    }

    /// Whether `row` still fits; if so it is counted.
    pub fn take<T: Serialize>(&mut self, row: &T) -> bool {
        let len = encoded_len(row) + 1; // the comma between array elements
        if self.taken > 0 && len > self.left {
            return false;
        }
        self.left = self.left.saturating_sub(len);
        self.taken += 1;
        true
    }
}

/// The page size a request asked for, its default, or `invalid_args`.
pub fn clamp_limit(limit: Option<u32>, default: u32, max: u32) -> Result<u32, ErrorBody> {
    match limit {
        None => Ok(default),
        Some(0) => Err(invalid_args("limit must be at least 1")),
        Some(n) if n > max => Err(invalid_args(format!("limit must be at most {max}"))),
        Some(n) => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows fetched, limit, frame bytes; then the rows in the page and the
    /// cursor to go on from.
    type Case = (&'static [u32], u32, usize, &'static [u32], Option<u32>);

    #[test]
    fn a_page_ends_at_its_limit_or_its_frame_and_names_where_to_go_on() {
        let cases: &[Case] = &[
            (&[1, 2, 3], 2, 1 << 20, &[1, 2], Some(2)),
            (&[1, 2], 2, 1 << 20, &[1, 2], None),
            (&[], 5, 1 << 20, &[], None),
            // 1,024 bytes of envelope + 3 small rows: the frame ends it.
            (
                &[10, 11, 12, 13],
                10,
                ENVELOPE_RESERVE + 9,
                &[10, 11, 12],
                Some(12),
            ),
            // The first row always fits.
            (&[7, 8], 10, 0, &[7], Some(7)),
        ];
        for &(rows, limit, frame, want, next) in cases {
            let (page, got) = ByteBudget::new(frame).page_after(rows.to_vec(), limit, |r| *r);
            assert_eq!(
                (page.as_slice(), got),
                (want, next),
                "{rows:?} limit {limit}"
            );
        }
    }
}
