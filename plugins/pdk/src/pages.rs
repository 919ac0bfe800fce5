//! Token and number pagination with the two bounds every provider loop
//! needs: a most-pages cap (what one call may cost) and loop detection (a
//! provider that hands back a cursor it already gave would otherwise be
//! read until the call's request budget runs out).

/// Why a [`walk`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The provider said there was no next page.
    Last,
    /// `fetch` said it had seen enough.
    Enough,
    /// The page cap was reached with more to read.
    Cap,
    /// The provider repeated a cursor.
    Loop,
}

/// What a page said about the next one.
pub enum Next {
    /// Read the page with this cursor (a token, a page number, a URL).
    Page(String),
    /// No more pages.
    Last,
    /// Stop here: the caller has what it needs.
    Enough,
}

/// Calls `fetch` with the first cursor (`None`), then with each next one it
/// returns, at most `max_pages` times, stopping at a repeated cursor.
/// Returns how it ended and how many pages were fetched.
pub fn walk<E>(
    max_pages: u32,
    mut fetch: impl FnMut(Option<&str>) -> Result<Next, E>,
) -> Result<(End, u32), E> {
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        if pages == max_pages {
            return Ok((End::Cap, pages));
        }
        let next = fetch(cursor.as_deref())?;
        pages += 1;
        match next {
            Next::Last => return Ok((End::Last, pages)),
            Next::Enough => return Ok((End::Enough, pages)),
            Next::Page(c) if seen.contains(&c) => return Ok((End::Loop, pages)),
            Next::Page(c) => {
                seen.push(c.clone());
                cursor = Some(c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_to_the_last_page_and_stops_at_caps_and_loops() {
        let mut asked = Vec::new();
        let r: Result<_, ()> = walk(10, |c| {
            asked.push(c.map(str::to_string));
            Ok(match c {
                None => Next::Page("2".into()),
                Some("2") => Next::Page("3".into()),
                _ => Next::Last,
            })
        });
        assert_eq!(r, Ok((End::Last, 3)));
        assert_eq!(asked, [None, Some("2".into()), Some("3".into())]);
        let r: Result<_, ()> = walk(2, |_| Ok(Next::Page(format!("{}", 1))));
        assert_eq!(r, Ok((End::Loop, 2)));
        let mut n = 0;
        let r: Result<_, ()> = walk(3, |_| {
            n += 1;
            Ok(Next::Page(n.to_string()))
        });
        assert_eq!(r, Ok((End::Cap, 3)));
        let r: Result<(End, u32), &str> = walk(3, |_| Err("boom"));
        assert_eq!(r, Err("boom"));
    }
}
