//! Asset path globs: `/`-separated segments, `*` inside a segment matches any
//! characters of that segment, a whole `**` segment matches zero or more
//! segments. `finance/**` matches `finance` and everything below it.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathGlob {
    pattern: String,
    segments: Vec<String>,
}

impl PathGlob {
    pub fn new(pattern: &str) -> Result<Self, String> {
        let trimmed = pattern.trim_matches('/');
        if trimmed.is_empty() {
            return Err("empty asset pattern".into());
        }
        let segments: Vec<String> = trimmed.split('/').map(str::to_string).collect();
        for s in &segments {
            if s.is_empty() {
                return Err(format!("asset pattern {pattern:?} has an empty segment"));
            }
            if s.contains("**") && s != "**" {
                return Err(format!("asset pattern {pattern:?}: `**` must be a whole segment"));
            }
        }
        Ok(PathGlob { pattern: pattern.to_string(), segments })
    }

    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether some asset path matches both globs (exact, not a guess).
    pub fn overlaps(&self, other: &PathGlob) -> bool {
        let a: Vec<&str> = self.segments.iter().map(String::as_str).collect();
        let b: Vec<&str> = other.segments.iter().map(String::as_str).collect();
        segments_overlap(&a, &b)
    }

    pub fn matches(&self, path: &str) -> bool {
        let path: Vec<&str> = path.trim_matches('/').split('/').collect();
        let pattern: Vec<&str> = self.segments.iter().map(String::as_str).collect();
        match_segments(&pattern, &path)
    }
}

fn match_segments(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| match_segments(rest, &path[skip..])),
        Some((first, rest)) => match path.split_first() {
            Some((seg, path_rest)) => match_segment(first.as_bytes(), seg.as_bytes()) && match_segments(rest, path_rest),
            None => false,
        },
    }
}

/// Whether two segment lists match a common path: a `**` on either side
/// matches nothing more, or takes one more segment of the other side.
fn segments_overlap(a: &[&str], b: &[&str]) -> bool {
    match (a.split_first(), b.split_first()) {
        (None, None) => true,
        (Some((&"**", a_rest)), _) => segments_overlap(a_rest, b) || (!b.is_empty() && segments_overlap(a, &b[1..])),
        (_, Some((&"**", b_rest))) => segments_overlap(a, b_rest) || (!a.is_empty() && segments_overlap(&a[1..], b)),
        (Some((x, a_rest)), Some((y, b_rest))) => segment_overlap(x.as_bytes(), y.as_bytes()) && segments_overlap(a_rest, b_rest),
        _ => false,
    }
}

/// Whether two one-segment patterns (with `*`) match a common text.
fn segment_overlap(a: &[u8], b: &[u8]) -> bool {
    match (a.split_first(), b.split_first()) {
        (None, None) => true,
        (Some((b'*', a_rest)), _) => segment_overlap(a_rest, b) || (!b.is_empty() && segment_overlap(a, &b[1..])),
        (_, Some((b'*', b_rest))) => segment_overlap(a, b_rest) || (!a.is_empty() && segment_overlap(&a[1..], b)),
        (Some((x, a_rest)), Some((y, b_rest))) => x == y && segment_overlap(a_rest, b_rest),
        _ => false,
    }
}

/// `*` matches any run of characters within one segment.
fn match_segment(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| match_segment(rest, &text[skip..])),
        Some((c, rest)) => text.first() == Some(c) && match_segment(rest, &text[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::PathGlob;

    fn m(p: &str, path: &str) -> bool {
        PathGlob::new(p).unwrap().matches(path)
    }

    #[test]
    fn globs_match_by_segment() {
        assert!(m("finance/**", "finance"));
        assert!(m("finance/**", "finance/ledger"));
        assert!(m("finance/**", "finance/ap/invoices"));
        assert!(!m("finance/**", "financial/ledger"));
        assert!(m("finance/*", "finance/ledger"));
        assert!(!m("finance/*", "finance/ap/invoices"));
        assert!(m("*/customers", "sales/customers"));
        assert!(m("hr/sal*", "hr/salaries"));
        assert!(!m("hr/sal*", "hr/people"));
        assert!(m("**", "anything/at/all"));
        assert!(m("a/**/z", "a/z"));
        assert!(m("a/**/z", "a/b/c/z"));
        assert!(!m("a/**/z", "a/b/c"));
        assert!(m("hr/salaries", "hr/salaries"));
        assert!(!m("hr/salaries", "hr/salaries/x"));
    }

    fn o(a: &str, b: &str) -> bool {
        let (a, b) = (PathGlob::new(a).unwrap(), PathGlob::new(b).unwrap());
        assert_eq!(a.overlaps(&b), b.overlaps(&a), "overlap must be symmetric");
        a.overlaps(&b)
    }

    #[test]
    fn overlap_means_a_path_matches_both() {
        assert!(o("finance/**", "finance/ledger"));
        assert!(o("finance/**", "**"));
        assert!(o("finance/**", "*/ledger"));
        assert!(o("finance/**", "fin*/**"));
        assert!(o("finance/ap/**", "finance/**"));
        assert!(o("a/**/z", "a/b/**"));
        assert!(o("hr/sal*", "hr/*ies"));
        assert!(!o("finance/**", "sales/**"));
        assert!(!o("finance/**", "financial/**"));
        assert!(!o("finance/*", "finance/a/b"));
        assert!(!o("hr/sal*", "hr/people"));
        assert!(!o("a/**/z", "a/b/y"));
        assert!(!o("*/ledger", "*/invoices"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert!(PathGlob::new("").is_err());
        assert!(PathGlob::new("a//b").is_err());
        assert!(PathGlob::new("a/b**").is_err());
    }
}
