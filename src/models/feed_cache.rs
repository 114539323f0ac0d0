//! The newest compositions, kept for a moment by each process. The home page's *All* feed and
//! the API's composition list are what every visitor reads, over and over, and each read costs
//! a page query and the feed's total (a `COUNT(*)` that grows with the table); so each page of
//! that feed, and the total, are remembered for [`TTL`]. Personal feeds (followed, a profile)
//! are never cached.
//!
//! Freshness: every successful write handled by this process (any POST, PUT, PATCH or DELETE)
//! empties the cache at once (`web::cache`), and the page a browser lands on after a write (the
//! handler that wrote said so, see `Session::note_write`) is read fresh from the database and
//! replaces the copy, so people see their own change on the page they land on, whichever
//! process serves it. Anything else done elsewhere appears within [`TTL`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DbErr};

use super::composition::{self, Card, Feed};

/// How long a page of the feed, and its total, are served from memory.
pub const TTL: Duration = Duration::from_secs(2);
/// Pages remembered at most; past it, expired pages go first, then everything.
const CAPACITY: usize = 64;

/// A page of the feed as read, and when.
type CachedPage = (Instant, Arc<Vec<Card>>);

#[derive(Default)]
struct Slots {
    /// Bumped by every `clear`: a read that began before a write must not store what it read
    /// after the write emptied the cache.
    generation: u64,
    total: Option<(Instant, u64)>,
    /// By (offset, limit).
    pages: HashMap<(u64, u64), CachedPage>,
}

#[derive(Default)]
pub struct FeedCache {
    slots: Mutex<Slots>,
}

fn fresh_enough(at: Instant) -> bool {
    at.elapsed() < TTL
}

impl FeedCache {
    fn lock(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forget everything (after a write).
    pub fn clear(&self) {
        let mut slots = self.lock();
        slots.generation += 1;
        slots.total = None;
        slots.pages.clear();
    }

    /// A page of everyone's compositions and how many there are: from memory while fresh,
    /// unless `fresh` (the request follows a write) asks for the database.
    pub async fn all<C: ConnectionTrait>(
        &self,
        db: &C,
        offset: u64,
        limit: u64,
        fresh: bool,
    ) -> Result<(Arc<Vec<Card>>, u64), DbErr> {
        let key = (offset, limit);
        if fresh {
            // A write happened somewhere: what this process remembers, or is reading at this
            // moment, may predate it.
            self.clear();
        }
        let seen = self.look(key);
        let total = match seen.total {
            Some(total) => total,
            None => {
                let total = composition::count(db, Feed::All).await?;
                self.store(seen.generation, |slots| {
                    slots.total = Some((Instant::now(), total));
                });
                total
            }
        };
        if offset >= total {
            return Ok((Arc::new(Vec::new()), total));
        }
        if let Some(cards) = seen.cards {
            return Ok((cards, total));
        }
        let cards = Arc::new(composition::cards(db, Feed::All, offset, limit).await?);
        self.store(seen.generation, |slots| {
            if slots.pages.len() >= CAPACITY {
                slots.pages.retain(|_, (at, _)| fresh_enough(*at));
                if slots.pages.len() >= CAPACITY {
                    slots.pages.clear();
                }
            }
            slots.pages.insert(key, (Instant::now(), cards.clone()));
        });
        Ok((cards, total))
    }

    /// What memory holds for the page `key`.
    fn look(&self, key: (u64, u64)) -> Seen {
        let slots = self.lock();
        Seen {
            generation: slots.generation,
            total: slots
                .total
                .filter(|(at, _)| fresh_enough(*at))
                .map(|(_, n)| n),
            cards: slots
                .pages
                .get(&key)
                .filter(|(at, _)| fresh_enough(*at))
                .map(|(_, cards)| cards.clone()),
        }
    }

    /// Remember what was read, unless the cache was emptied since the read began.
    fn store(&self, generation: u64, write: impl FnOnce(&mut Slots)) {
        let mut slots = self.lock();
        if slots.generation == generation {
            write(&mut slots);
        }
    }
}

/// What a lookup found, and when.
struct Seen {
    generation: u64,
    total: Option<u64>,
    cards: Option<Arc<Vec<Card>>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remember_total(cache: &FeedCache, generation: u64, total: u64) {
        cache.store(generation, |slots| {
            slots.total = Some((Instant::now(), total))
        });
    }

    #[test]
    fn what_was_read_is_remembered() {
        let cache = FeedCache::default();
        let seen = cache.look((0, 20));
        assert_eq!(seen.total, None);
        remember_total(&cache, seen.generation, 7);
        assert_eq!(cache.look((0, 20)).total, Some(7));
    }

    #[test]
    fn a_read_that_began_before_a_write_does_not_store_its_stale_result() {
        let cache = FeedCache::default();
        let before_the_write = cache.look((0, 20));
        cache.clear(); // the write here, or a fresh read after a write elsewhere
        remember_total(&cache, before_the_write.generation, 7);
        assert_eq!(cache.look((0, 20)).total, None);
        // What is read after it is remembered.
        let after = cache.look((0, 20));
        remember_total(&cache, after.generation, 8);
        assert_eq!(cache.look((0, 20)).total, Some(8));
    }
}
