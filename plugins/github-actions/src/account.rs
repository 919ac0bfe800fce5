//! `validate-credentials` (`GET /user`) and `list-projects`
//! (`GET /user/repos`).

use crate::client::Client;
use crate::links;
use crate::model::{Repo, User};
use crate::transport::Transport;
use crate::wit::{Account, CallContext, Project, ProjectPage, ProjectQuery, ProviderError};

/// Repositories per `/user/repos` page: GitHub's largest.
const REPOS_PER_PAGE: usize = 100;

/// Pages one `list-projects` call reads while searching before it answers
/// with what it has (and a cursor): a user may see thousands of
/// repositories, and a call has a time limit.
const SEARCH_PAGES_PER_CALL: usize = 10;

/// The token's owner; a 401 is `unauthorized` with GitHub's message.
pub fn validate_credentials(
    t: &dyn Transport,
    ctx: &CallContext,
) -> Result<Account, ProviderError> {
    let client = Client::new(t, ctx);
    let (user, _): (User, _) = client.get_json(client.url("/user"), false)?;
    Ok(Account {
        id: user.id.to_string(),
        name: user
            .name
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| user.login.clone()),
        login: user.login,
    })
}

/// Where a page starts: GitHub's page number (from 1) and how many of its
/// repositories an earlier answer already gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    page: usize,
    skip: usize,
}

impl Cursor {
    fn parse(s: &str) -> Result<Cursor, ProviderError> {
        let bad = || ProviderError::Other(format!("{s:?} is not a cursor this plugin gave"));
        let (page, skip) = s
            .strip_prefix('p')
            .and_then(|r| r.split_once('s'))
            .ok_or_else(bad)?;
        let c = Cursor {
            page: page.parse().map_err(|_| bad())?,
            skip: skip.parse().map_err(|_| bad())?,
        };
        (c.page >= 1 && c.skip < REPOS_PER_PAGE)
            .then_some(c)
            .ok_or_else(bad)
    }

    fn format(self) -> String {
        format!("p{}s{}", self.page, self.skip)
    }
}

fn project_of(r: Repo) -> Project {
    Project {
        slug: r.full_name.to_ascii_lowercase(),
        name: r.full_name,
        repo_url: r.html_url,
    }
}

/// One page of the repositories the token can see, sorted by full name.
/// GitHub's `/user/repos` has no search, so a `search` filters the pages
/// read; the cursor says where the next answer starts inside GitHub's pages,
/// so no repository is skipped or repeated whatever `limit` is.
pub fn list_projects(
    t: &dyn Transport,
    ctx: &CallContext,
    query: &ProjectQuery,
) -> Result<ProjectPage, ProviderError> {
    let client = Client::new(t, ctx);
    let limit = (query.limit as usize).clamp(1, 100);
    let needle = query
        .search
        .as_deref()
        .map(str::to_lowercase)
        .filter(|s| !s.is_empty());
    let mut at = match &query.cursor {
        Some(c) => Cursor::parse(c)?,
        None => Cursor { page: 1, skip: 0 },
    };
    let mut projects = Vec::new();
    for _ in 0..SEARCH_PAGES_PER_CALL {
        let url = client.url(&format!(
            "/user/repos?sort=full_name&direction=asc&per_page={REPOS_PER_PAGE}&page={}",
            at.page
        ));
        let (repos, resp): (Vec<Repo>, _) = client.get_json(url, false)?;
        let more_pages = links::next(&resp.headers).is_some();
        let count = repos.len();
        for (i, repo) in repos.into_iter().enumerate().skip(at.skip) {
            let hit = needle
                .as_ref()
                .is_none_or(|n| repo.full_name.to_lowercase().contains(n));
            if hit {
                projects.push(project_of(repo));
                if projects.len() == limit {
                    let next = if i + 1 < count {
                        Some(Cursor {
                            page: at.page,
                            skip: i + 1,
                        })
                    } else if more_pages {
                        Some(Cursor {
                            page: at.page + 1,
                            skip: 0,
                        })
                    } else {
                        None
                    };
                    return Ok(ProjectPage {
                        projects,
                        next: next.map(Cursor::format),
                    });
                }
            }
        }
        if !more_pages {
            return Ok(ProjectPage {
                projects,
                next: None,
            });
        }
        at = Cursor {
            page: at.page + 1,
            skip: 0,
        };
    }
    Ok(ProjectPage {
        projects,
        next: Some(at.format()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_strangers() {
        let c = Cursor { page: 3, skip: 17 };
        assert_eq!(Cursor::parse(&c.format()).unwrap(), c);
        for bad in [
            "",
            "p0s0",
            "p1s100",
            "3:17",
            "p1s",
            "https://api.github.com/user/repos?page=2",
        ] {
            assert!(Cursor::parse(bad).is_err(), "{bad}");
        }
    }
}
