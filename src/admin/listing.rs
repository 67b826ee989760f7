//! Paging and sorting, one rule for every admin list: a list names its
//! sortable columns as a closed set ([`SortKey`], an enum per list, never
//! a column name taken from the query string), and its links keep the
//! other filters.
//!
//! Words are refused, numbers clamped: an unknown `sort` or `dir` answers
//! 400 with the error module's body (as an unknown status filter does),
//! and so does a `page` that is not a number (the query extractor); page
//! 0 reads as page 1, and a page past the last is an empty page, as a link
//! kept from yesterday would find it (OFFSET past the end stops where the
//! rows do, so a huge number costs no more than the last page).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::Error;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Asc,
    Desc,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Asc => "asc",
            Direction::Desc => "desc",
        }
    }

    fn parse(word: &str) -> Option<Direction> {
        [Direction::Asc, Direction::Desc].into_iter().find(|d| d.as_str() == word)
    }

    /// From `?dir=` of a list with one order (newest or oldest first):
    /// `default` when absent, 400 for any other word.
    pub fn from_query(dir: &str, default: Direction) -> Result<Direction, Error> {
        match dir {
            "" => Ok(default),
            word => Direction::parse(word).ok_or_else(|| Error::invalid("dir must be asc or desc")),
        }
    }

    fn flipped(self) -> Direction {
        match self {
            Direction::Asc => Direction::Desc,
            Direction::Desc => Direction::Asc,
        }
    }

    /// The store's order.
    pub fn order(self) -> sea_orm::Order {
        match self {
            Direction::Asc => sea_orm::Order::Asc,
            Direction::Desc => sea_orm::Order::Desc,
        }
    }
}

/// A list's sortable columns.
pub trait SortKey: Copy + PartialEq + Sized + 'static {
    /// Every column, in the order the headers show them.
    const ALL: &'static [Self];
    /// The list's order when none is asked for.
    const DEFAULT: Self;
    /// The word in `?sort=`.
    fn as_str(self) -> &'static str;
    /// The direction a first click on the column sorts by.
    fn first_direction(self) -> Direction;
}

/// A list's order as asked for.
#[derive(Clone, Copy, Debug)]
pub struct Sorting<K> {
    pub key: K,
    pub direction: Direction,
}

impl<K: SortKey> Sorting<K> {
    /// From `?sort=&dir=` (both optional).
    pub fn parse(sort: &str, dir: &str) -> Result<Sorting<K>, Error> {
        let key = match sort {
            "" => K::DEFAULT,
            word => K::ALL.iter().copied().find(|k| k.as_str() == word).ok_or_else(|| {
                let known: Vec<&str> = K::ALL.iter().map(|k| k.as_str()).collect();
                Error::invalid(format!("sort must be one of {}", known.join(", ")))
            })?,
        };
        let direction = match dir {
            "" => key.first_direction(),
            word => {
                Direction::parse(word).ok_or_else(|| Error::invalid("dir must be asc or desc"))?
            }
        };
        Ok(Sorting { key, direction })
    }

    /// Whether this is the list's own order (links leave it out).
    pub fn is_default(&self) -> bool {
        self.key == K::DEFAULT && self.direction == K::DEFAULT.first_direction()
    }
}

/// `?page=`: 1 when absent or 0.
pub fn page_number(page: Option<u64>) -> u64 {
    page.unwrap_or(1).max(1)
}

/// The rows a page skips: at most `i64::MAX`, the greatest offset the
/// databases take (a larger one fails in the query binder).
pub fn offset(page: u64, per_page: u64) -> u64 {
    (page - 1).saturating_mul(per_page).min(i64::MAX as u64)
}

/// A header's link: sorts by the column (the other way when it already
/// does), back to page 1.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SortLink {
    pub href: String,
    /// `asc` or `desc` when the list is sorted by this column.
    pub active: Option<Direction>,
}

/// The links of one list page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Pager {
    pub page: u64,
    pub pages: u64,
    pub prev: Option<String>,
    pub next: Option<String>,
    /// By column word.
    pub sort: BTreeMap<&'static str, SortLink>,
    /// The same list as CSV (with the same filters and order), where the
    /// list has one.
    pub csv: Option<String>,
}

/// Builds a list's links from its path and the filters in force.
pub struct Links<'a, K> {
    pub path: &'a str,
    /// Filters as typed (empty ones are left out of links).
    pub filters: Vec<(&'static str, &'a str)>,
    pub sorting: Sorting<K>,
    /// Before `page`, `sort` and `dir` in links (`users_` for a list
    /// beside others on one page).
    pub prefix: &'static str,
    /// Appended to every link (`#users`).
    pub anchor: &'static str,
}

impl<K: SortKey> Links<'_, K> {
    fn query(&self, sorting: &Sorting<K>, page: Option<u64>) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.filters {
            if !v.is_empty() {
                s.append_pair(k, v);
            }
        }
        if !sorting.is_default() {
            s.append_pair(&format!("{}sort", self.prefix), sorting.key.as_str());
            s.append_pair(&format!("{}dir", self.prefix), sorting.direction.as_str());
        }
        if let Some(p) = page.filter(|p| *p > 1) {
            s.append_pair(&format!("{}page", self.prefix), &p.to_string());
        }
        s.finish()
    }

    fn href(&self, path: &str, sorting: &Sorting<K>, page: Option<u64>) -> String {
        let query = self.query(sorting, page);
        let sep = if query.is_empty() { "" } else { "?" };
        format!("{path}{sep}{query}{}", self.anchor)
    }

    /// The list's first page in its order.
    pub fn first_page(&self) -> String {
        self.href(self.path, &self.sorting, None)
    }

    /// The pager of page `page` of `total` rows, `per_page` a page.
    pub fn pager(&self, page: u64, total: u64, per_page: u64, csv: Option<&str>) -> Pager {
        let pages = total.div_ceil(per_page).max(1);
        let sort = K::ALL
            .iter()
            .map(|&key| {
                let current = self.sorting.key == key;
                let direction =
                    if current { self.sorting.direction.flipped() } else { key.first_direction() };
                let link = SortLink {
                    href: self.href(self.path, &Sorting { key, direction }, None),
                    active: current.then_some(self.sorting.direction),
                };
                (key.as_str(), link)
            })
            .collect();
        Pager {
            page,
            pages,
            prev: (page > 1).then(|| self.href(self.path, &self.sorting, Some(page - 1))),
            next: (page < pages).then(|| self.href(self.path, &self.sorting, Some(page + 1))),
            sort,
            csv: csv.map(|path| {
                let query = self.query(&self.sorting, None);
                let sep = if query.is_empty() { "" } else { "?" };
                format!("{path}{sep}{query}")
            }),
        }
    }
}

/// The links of a list paged by a cursor (a keyset: the next page starts
/// past the last row shown, so page 1,000 costs what page 1 does) in one
/// order, newest or oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeysetLinks {
    pub newest_first: bool,
    /// The next page in this order, when there is one.
    pub next: Option<String>,
    /// The first page, oldest first (the filters kept).
    pub oldest_first_href: String,
    /// The first page, newest first (the filters kept).
    pub newest_first_href: String,
    /// Set on a page after the first: back to the first in this order.
    pub first: Option<String>,
}

impl KeysetLinks {
    /// A page's links in `direction`; `href` writes a first page's link
    /// in the direction given, `next` is the link past this page's last
    /// row, `paged` whether this page came from a cursor.
    pub fn new(
        direction: Direction,
        next: Option<String>,
        paged: bool,
        href: impl Fn(Direction) -> String,
    ) -> KeysetLinks {
        KeysetLinks {
            newest_first: direction == Direction::Desc,
            next,
            oldest_first_href: href(Direction::Asc),
            newest_first_href: href(Direction::Desc),
            first: paged.then(|| href(direction)),
        }
    }
}
