//! The newest compositions, kept for a moment by each process. The home page's *All* feed and
//! the API's composition list are what every visitor reads, over and over, and each read costs
//! a page query and the feed's total (a `COUNT(*)` that grows with the table); so each page of
//! that feed, and the total, are remembered for [`TTL`]. Personal feeds (followed, a profile)
//! are never cached.
//!
//! Freshness: every successful write handled by this process (any POST, PUT, PATCH or DELETE)
//! empties the cache at once (`web::cache`), and a page that follows a write (it carries the
//! flash message the write set) is read fresh from the database and refreshes the cache, so
//! people see their own changes, and keep seeing them on reload, even when the next request
//! lands on another process. Other people's changes appear within [`TTL`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DbErr};

use super::cached_count::CachedCount;
use super::composition::{self, Card, Feed};

/// How long a page of the feed, and its total, are served from memory.
pub const TTL: Duration = Duration::from_secs(2);
/// Pages remembered at most; past it, expired pages go first, then everything.
const CAPACITY: usize = 64;

/// (offset, limit) → when it was read, and its cards.
type Pages = HashMap<(u64, u64), (Instant, Arc<Vec<Card>>)>;

pub struct FeedCache {
    total: CachedCount,
    pages: Mutex<Pages>,
}

impl Default for FeedCache {
    fn default() -> Self {
        FeedCache {
            total: CachedCount::new(TTL),
            pages: Mutex::new(HashMap::new()),
        }
    }
}

impl FeedCache {
    fn lock(&self) -> MutexGuard<'_, Pages> {
        self.pages.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forget everything (after a write).
    pub fn clear(&self) {
        self.total.invalidate();
        self.lock().clear();
    }

    /// A page of everyone's compositions and how many there are: from memory while fresh,
    /// unless `fresh` asks for the database (and to remember what it says).
    pub async fn all<C: ConnectionTrait>(
        &self,
        db: &C,
        offset: u64,
        limit: u64,
        fresh: bool,
    ) -> Result<(Arc<Vec<Card>>, u64), DbErr> {
        if fresh {
            self.total.invalidate();
        }
        let total = self.total.get(composition::count(db, Feed::All)).await?;
        if offset >= total {
            return Ok((Arc::new(Vec::new()), total));
        }
        let key = (offset, limit);
        if !fresh
            && let Some((at, cards)) = self.lock().get(&key)
            && at.elapsed() < TTL
        {
            return Ok((cards.clone(), total));
        }
        let cards = Arc::new(composition::cards(db, Feed::All, offset, limit).await?);
        let mut pages = self.lock();
        if pages.len() >= CAPACITY {
            pages.retain(|_, (at, _)| at.elapsed() < TTL);
            if pages.len() >= CAPACITY {
                pages.clear();
            }
        }
        pages.insert(key, (Instant::now(), cards.clone()));
        Ok((cards, total))
    }
}
