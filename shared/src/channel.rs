//! Channel names and capability patterns (`docs/protocol.md` §2). All validation of
//! names lives here so every entry point rejects the same inputs.

use std::fmt;

/// Longest channel name the protocol accepts.
pub const MAX_CHANNEL_LEN: usize = 128;

/// A validated channel name: 1–128 chars of `A-Z a-z 0-9 _ - : . @`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelName(String);

/// Why a name or pattern was refused; the message goes to the client as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// Empty string.
    #[error("channel name is empty")]
    Empty,
    /// Over [`MAX_CHANNEL_LEN`] characters.
    #[error("channel name is longer than 128 characters")]
    TooLong,
    /// A character outside the allowed set.
    #[error("channel name has a character outside A-Z a-z 0-9 _ - : . @")]
    BadChar,
}

fn valid_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':' | '.' | '@')
}

impl ChannelName {
    /// Validates `s` as a channel name.
    pub fn parse(s: &str) -> Result<Self, ChannelError> {
        if s.is_empty() {
            return Err(ChannelError::Empty);
        }
        if s.len() > MAX_CHANNEL_LEN {
            return Err(ChannelError::TooLong);
        }
        if !s.chars().all(valid_char) {
            return Err(ChannelError::BadChar);
        }
        Ok(Self(s.to_string()))
    }

    /// The personal channel `user:<sub>` every user may always subscribe to.
    /// `None` when `sub` makes no valid channel name (then there is no personal channel).
    pub fn personal(sub: &str) -> Option<Self> {
        Self::parse(&format!("user:{sub}")).ok()
    }

    /// The name as sent on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A capability pattern: a channel name, or a name prefix ending in `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// Matches exactly this name.
    Exact(String),
    /// Matches every name starting with this prefix (`*` alone: the empty prefix).
    Prefix(String),
}

impl Pattern {
    /// Parses a pattern from a JWT claim; the prefix part must itself be made
    /// of channel characters.
    pub fn parse(s: &str) -> Result<Self, ChannelError> {
        match s.strip_suffix('*') {
            Some(prefix) => {
                if prefix.len() >= MAX_CHANNEL_LEN {
                    return Err(ChannelError::TooLong);
                }
                if !prefix.chars().all(valid_char) {
                    return Err(ChannelError::BadChar);
                }
                Ok(Self::Prefix(prefix.to_string()))
            }
            None => ChannelName::parse(s).map(|n| Self::Exact(n.0)),
        }
    }

    /// Whether `channel` is covered by this pattern.
    pub fn matches(&self, channel: &ChannelName) -> bool {
        match self {
            Self::Exact(n) => n == channel.as_str(),
            Self::Prefix(p) => channel.as_str().starts_with(p.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(ChannelName::parse("room:lobby").is_ok());
        assert!(ChannelName::parse("a.b-c_d@e:F9").is_ok());
        assert_eq!(ChannelName::parse(""), Err(ChannelError::Empty));
        assert_eq!(ChannelName::parse("room lobby"), Err(ChannelError::BadChar));
        assert_eq!(ChannelName::parse("room/x"), Err(ChannelError::BadChar));
        assert_eq!(ChannelName::parse("é"), Err(ChannelError::BadChar));
        assert!(ChannelName::parse(&"a".repeat(128)).is_ok());
        assert_eq!(
            ChannelName::parse(&"a".repeat(129)),
            Err(ChannelError::TooLong)
        );
    }

    #[test]
    fn patterns() {
        let lobby = ChannelName::parse("room:lobby").unwrap();
        let other = ChannelName::parse("chat:lobby").unwrap();
        assert!(Pattern::parse("room:*").unwrap().matches(&lobby));
        assert!(!Pattern::parse("room:*").unwrap().matches(&other));
        assert!(Pattern::parse("*").unwrap().matches(&other));
        assert!(Pattern::parse("room:lobby").unwrap().matches(&lobby));
        assert!(!Pattern::parse("room:lob").unwrap().matches(&lobby));
        assert!(Pattern::parse("ro om*").is_err());
        assert!(Pattern::parse("room:*x").is_err());
    }
}
