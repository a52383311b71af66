//! The two list envelopes every list route answers with.

use serde::{Deserialize, Serialize};

/// A page of a cursor-paginated list. `next_cursor` is `null` on the last
/// page (never absent); pass it back as `cursor` for the next one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn new(items: Vec<T>, next_cursor: Option<String>) -> Self {
        Page { items, next_cursor }
    }
}

/// A whole list, short enough to answer in one piece.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Items<T> {
    pub items: Vec<T>,
}

impl<T> Items<T> {
    pub fn new(items: Vec<T>) -> Self {
        Items { items }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_last_page_says_null() {
        let last = serde_json::to_value(Page::new(vec![1, 2], None)).unwrap();
        assert_eq!(last, json!({ "items": [1, 2], "next_cursor": null }));
        let all = serde_json::to_value(Items::new(vec!["a"])).unwrap();
        assert_eq!(all, json!({ "items": ["a"] }));
    }
}
