//! Audio: what an uploaded file really is (`probe`), where it is kept (`store`), and the way
//! in for an upload (`upload`).

pub mod probe;
pub mod store;
pub mod upload;

pub use upload::Media;
