//! Path globs for fault rules.

/// `*` matches any run of characters (including `/`); everything else is literal.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p = pattern.as_bytes();
    let t = text.as_bytes();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            // Backtrack: let the last `*` swallow one more character.
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn a_star_spans_slashes_and_the_rest_is_literal() {
        assert!(glob_match("/api/*", "/api/v2/me"));
        assert!(glob_match("*/jobs", "/repos/o/r/actions/runs/1/jobs"));
        assert!(glob_match("/a/*/c", "/a/b/x/c"));
        assert!(!glob_match("/a/*/c", "/a/b/x"));
        assert!(glob_match("/user", "/user"));
        assert!(!glob_match("/user", "/user/repos"));
        assert!(glob_match("**", ""));
    }
}
