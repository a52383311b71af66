//! Cursor pagination: opaque cursors and validated page sizes.
//!
//! A cursor is the hex encoding of the last sort key the previous page
//! returned; clients pass it back unchanged and never build one.

use crate::error::{Error, ErrorKind, Result};

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;
/// Versions per page when their content is asked for: content is up to
/// 256 KB before and after its includes expand, so 20 bound a page to
/// about 10 MB however large the prompts.
pub const MAX_CONTENT_LIMIT: u32 = 20;

/// `GET /v1/prompts/{slug}/versions`: a page, and whether it carries each
/// version's content (`include=content`; without it, summaries only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionListing {
    pub page: PageRequest,
    pub with_content: bool,
}

impl VersionListing {
    pub fn parse(limit: Option<&str>, cursor: Option<&str>, include: Option<&str>) -> Result<Self> {
        let with_content = match include.unwrap_or("") {
            "" => false,
            "content" => true,
            _ => {
                return Err(Error::new(ErrorKind::InvalidQuery, "include takes one value: content")
                    .with_details(serde_json::json!({ "parameter": "include" })))
            }
        };
        let (default, max) = if with_content {
            (MAX_CONTENT_LIMIT, MAX_CONTENT_LIMIT)
        } else {
            (DEFAULT_LIMIT, MAX_LIMIT)
        };
        Ok(VersionListing {
            page: PageRequest::parse_within(limit, cursor, default, max)?,
            with_content,
        })
    }
}

/// A validated page request: at most `limit` items after `after` (a sort key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub after: Option<String>,
}

impl PageRequest {
    pub fn parse(limit: Option<&str>, cursor: Option<&str>) -> Result<Self> {
        Self::parse_within(limit, cursor, DEFAULT_LIMIT, MAX_LIMIT)
    }

    /// With a page size of `default` when none is given, at most `max`.
    pub fn parse_within(limit: Option<&str>, cursor: Option<&str>, default: u32, max: u32) -> Result<Self> {
        let limit = match limit {
            None => default,
            Some(raw) => match raw.parse::<u32>() {
                Ok(n) if (1..=max).contains(&n) => n,
                _ => {
                    return Err(Error::new(
                        ErrorKind::InvalidQuery,
                        format!("limit must be an integer from 1 to {max}"),
                    )
                    .with_details(serde_json::json!({ "parameter": "limit" })))
                }
            },
        };
        let after = cursor.filter(|c| !c.is_empty()).map(decode_cursor).transpose()?;
        Ok(PageRequest { limit, after })
    }

    /// The cursor as a numeric sort key (version numbers, sequence numbers).
    pub fn after_number(&self) -> Result<Option<u32>> {
        self.after
            .as_deref()
            .map(|c| {
                c.parse::<u32>().map_err(|_| {
                    Error::new(ErrorKind::InvalidQuery, "cursor is not one this API returned")
                        .with_details(serde_json::json!({ "parameter": "cursor" }))
                })
            })
            .transpose()
    }

    /// The store fetches one row more than the limit to know whether there is
    /// a next page.
    pub fn fetch_size(&self) -> u32 {
        self.limit + 1
    }
}

pub fn encode_cursor(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

pub fn decode_cursor(cursor: &str) -> Result<String> {
    let bad = || {
        Error::new(ErrorKind::InvalidQuery, "cursor is not one this API returned")
            .with_details(serde_json::json!({ "parameter": "cursor" }))
    };
    if !cursor.is_ascii() || !cursor.len().is_multiple_of(2) || cursor.len() > 512 {
        return Err(bad());
    }
    let bytes = (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&cursor[i..i + 2], 16).map_err(|_| bad()))
        .collect::<Result<Vec<u8>>>()?;
    String::from_utf8(bytes).map_err(|_| bad())
}

/// Cuts the over-fetched row off and returns the cursor of the next page.
pub fn finish_page<T>(mut rows: Vec<T>, page: &PageRequest, key: impl Fn(&T) -> String) -> (Vec<T>, Option<String>) {
    if rows.len() > page.limit as usize {
        rows.truncate(page.limit as usize);
        let next = rows.last().map(|r| encode_cursor(&key(r)));
        (rows, next)
    } else {
        (rows, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        assert_eq!(decode_cursor(&encode_cursor("support-bot|7")).unwrap(), "support-bot|7");
    }

    #[test]
    fn garbage_cursors_and_limits_are_400() {
        assert_eq!(decode_cursor("zz").unwrap_err().status(), 400);
        assert!(decode_cursor("abc").is_err());
        // Multi-byte input must not be sliced mid-character (found by schemathesis).
        assert!(decode_cursor("\u{f37b1}\u{9a}").is_err());
        assert!(decode_cursor("é1").is_err());
        for bad in ["0", "201", "-1", "ten"] {
            assert!(PageRequest::parse(Some(bad), None).is_err(), "{bad}");
        }
        assert_eq!(PageRequest::parse(None, None).unwrap().limit, DEFAULT_LIMIT);
    }

    #[test]
    fn version_pages_carry_content_only_when_asked_and_then_fewer() {
        let summaries = VersionListing::parse(Some("200"), None, None).unwrap();
        assert_eq!((summaries.page.limit, summaries.with_content), (200, false));
        let full = VersionListing::parse(None, None, Some("content")).unwrap();
        assert_eq!((full.page.limit, full.with_content), (MAX_CONTENT_LIMIT, true));
        let too_many = VersionListing::parse(Some("21"), None, Some("content")).unwrap_err();
        assert_eq!(
            (too_many.status(), too_many.details()["parameter"].as_str()),
            (400, Some("limit"))
        );
        assert_eq!(
            VersionListing::parse(None, None, Some("everything"))
                .unwrap_err()
                .details()["parameter"],
            "include"
        );
    }

    #[test]
    fn finish_page_sets_next_only_when_more() {
        let page = PageRequest { limit: 2, after: None };
        let (rows, next) = finish_page(vec![1, 2, 3], &page, |n| n.to_string());
        assert_eq!(rows, vec![1, 2]);
        assert_eq!(decode_cursor(&next.unwrap()).unwrap(), "2");
        let (rows, next) = finish_page(vec![1, 2], &page, |n| n.to_string());
        assert_eq!(rows.len(), 2);
        assert!(next.is_none());
    }
}
