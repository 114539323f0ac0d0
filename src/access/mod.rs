//! Authentication: password hashing, signed single-purpose tokens, and the extractors that
//! say who is asking and what they may do.

pub mod extractors;
pub mod limits;
pub mod login;
pub mod password;
pub mod tokens;

pub use extractors::{Can, Confirmed, CurrentUser};
