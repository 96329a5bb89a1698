//! Linear-time pattern search for rule filters (`regex:`), and the check `rules check` runs.
//!
//! The `regex` crate matches with finite automata, never by backtracking, so no pattern and no
//! input can stall the worker: time grows with the input's length, whatever the pattern. Rules
//! are checked with this very engine, so what `rules check` accepts is what runs.

use regex::{Regex, RegexBuilder};

/// The largest compiled program accepted, in bytes: a bound on the memory one pattern takes.
pub const SIZE_LIMIT: usize = 8 << 20;

/// A compiled pattern that answers "is there a match anywhere in this text".
#[derive(Debug, Clone)]
pub struct Pattern {
    regex: Regex,
}

/// Why a pattern was refused, in one line (it ends up in `file:line: message`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError(pub String);

impl std::fmt::Display for PatternError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PatternError {}

impl From<regex::Error> for PatternError {
    fn from(err: regex::Error) -> Self {
        match err {
            // The crate renders syntax errors as a multi-line diagram ending in `error: ...`.
            regex::Error::Syntax(text) => {
                let last = text
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("");
                PatternError(last.trim().trim_start_matches("error: ").to_string())
            }
            regex::Error::CompiledTooBig(limit) => PatternError(format!(
                "pattern too large once compiled (limit {limit} bytes)"
            )),
            other => PatternError(other.to_string()),
        }
    }
}

impl Pattern {
    pub fn new(source: &str) -> Result<Pattern, PatternError> {
        let regex = RegexBuilder::new(source).size_limit(SIZE_LIMIT).build()?;
        Ok(Pattern { regex })
    }

    /// Whether the pattern matches anywhere in `text` (anchor it with `^` and `$`).
    pub fn search(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }

    pub fn source(&self) -> &str {
        self.regex.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_anywhere_unless_anchored() {
        let cases = [
            ("chat/(completions|edits)$", "/v1/chat/completions", true),
            ("^chat", "/v1/chat/completions", false),
            ("v1", "/v1/chat/completions", true),
            ("(?i)headless", "Mozilla HeadlessChrome/120", true),
            ("^$", "", true),
            ("é+", "café", true),
        ];
        for (source, text, expected) in cases {
            assert_eq!(
                Pattern::new(source).unwrap().search(text),
                expected,
                "{source} {text}"
            );
        }
    }

    #[test]
    fn refuses_what_cannot_run_in_linear_time_with_one_line() {
        for source in ["(a)\\1", "a(?=b)", "(?<!x)y", "(open"] {
            let err = Pattern::new(source).unwrap_err();
            assert!(
                !err.0.is_empty() && !err.0.contains('\n'),
                "{source}: {err:?}"
            );
        }
        assert_eq!(Pattern::new("(open").unwrap_err().0, "unclosed group");
    }

    #[test]
    fn bounds_the_compiled_size() {
        let err = Pattern::new("(\\w{1000}){1000}").unwrap_err();
        assert!(err.0.contains("too large"), "{err:?}");
    }

    #[test]
    fn a_catastrophic_backtracking_pattern_is_linear() {
        let p = Pattern::new("(a+)+$").unwrap();
        let text = "a".repeat(1 << 20) + "!";
        assert!(!p.search(&text));
    }
}
