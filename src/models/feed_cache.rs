//! The newest compositions, kept for a moment by each process. The home page's *All* feed and
//! the API's composition list are what every visitor reads, over and over; so each page of
//! that feed is remembered for [`TTL`], and so are the most used tags the home page shows. Personal feeds (followed, a profile)
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
use super::keyset::{Cursor, Page};
use super::tag;

/// How long a page of the feed, and its total, are served from memory.
pub const TTL: Duration = Duration::from_secs(2);
/// Tags the home page shows.
pub const TOP_TAGS: u64 = 12;
/// Pages remembered at most; past it, expired pages go first, then everything.
const CAPACITY: usize = 64;

/// A page of the feed as read, and when.
type CachedPage = (Instant, Arc<Page<Card>>);

#[derive(Default)]
struct Slots {
    /// Bumped by every `clear`: a read that began before a write must not store what it read
    /// after the write emptied the cache.
    generation: u64,
    /// By (cursor, page size).
    pages: HashMap<(Cursor, u64), CachedPage>,
    top_tags: Option<(Instant, Arc<Vec<tag::Model>>)>,
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
        slots.pages.clear();
        slots.top_tags = None;
    }

    /// A page of everyone's compositions: from memory while fresh, unless `fresh` (the
    /// request follows a write) asks for the database.
    pub async fn all<C: ConnectionTrait>(
        &self,
        db: &C,
        cursor: Cursor,
        per_page: u64,
        fresh: bool,
    ) -> Result<Arc<Page<Card>>, DbErr> {
        let key = (cursor, per_page);
        if fresh {
            // A write happened somewhere: what this process remembers, or is reading at this
            // moment, may predate it.
            self.clear();
        }
        let (generation, seen) = self.look(key);
        if let Some(page) = seen {
            return Ok(page);
        }
        let page = Arc::new(composition::page(db, Feed::All, cursor, per_page).await?);
        self.store(generation, |slots| {
            if slots.pages.len() >= CAPACITY {
                slots.pages.retain(|_, (at, _)| fresh_enough(*at));
                if slots.pages.len() >= CAPACITY {
                    slots.pages.clear();
                }
            }
            slots.pages.insert(key, (Instant::now(), page.clone()));
        });
        Ok(page)
    }

    /// The [`TOP_TAGS`] most used tags: from memory while fresh.
    pub async fn top_tags<C: ConnectionTrait>(
        &self,
        db: &C,
    ) -> Result<Arc<Vec<tag::Model>>, DbErr> {
        let (generation, seen) = {
            let slots = self.lock();
            let seen = slots
                .top_tags
                .as_ref()
                .filter(|(at, _)| fresh_enough(*at))
                .map(|(_, tags)| tags.clone());
            (slots.generation, seen)
        };
        if let Some(tags) = seen {
            return Ok(tags);
        }
        let tags = Arc::new(tag::top(db, TOP_TAGS).await?);
        self.store(generation, |slots| {
            slots.top_tags = Some((Instant::now(), tags.clone()))
        });
        Ok(tags)
    }

    /// The generation now, and what memory holds for the page `key`.
    fn look(&self, key: (Cursor, u64)) -> (u64, Option<Arc<Page<Card>>>) {
        let slots = self.lock();
        let page = slots
            .pages
            .get(&key)
            .filter(|(at, _)| fresh_enough(*at))
            .map(|(_, page)| page.clone());
        (slots.generation, page)
    }

    /// Remember what was read, unless the cache was emptied since the read began.
    fn store(&self, generation: u64, write: impl FnOnce(&mut Slots)) {
        let mut slots = self.lock();
        if slots.generation == generation {
            write(&mut slots);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remember(cache: &FeedCache, generation: u64) {
        cache.store(generation, |slots| {
            slots.pages.insert(
                (Cursor::First, 20),
                (Instant::now(), Arc::new(Page::empty())),
            );
        });
    }

    #[test]
    fn what_was_read_is_remembered() {
        let cache = FeedCache::default();
        let (generation, seen) = cache.look((Cursor::First, 20));
        assert!(seen.is_none());
        remember(&cache, generation);
        assert!(cache.look((Cursor::First, 20)).1.is_some());
        assert!(cache.look((Cursor::Last, 20)).1.is_none());
    }

    #[test]
    fn a_read_that_began_before_a_write_does_not_store_its_stale_result() {
        let cache = FeedCache::default();
        let (before_the_write, _) = cache.look((Cursor::First, 20));
        cache.clear(); // the write here, or a fresh read after a write elsewhere
        remember(&cache, before_the_write);
        assert!(cache.look((Cursor::First, 20)).1.is_none());
        // What is read after it is remembered.
        let (after, _) = cache.look((Cursor::First, 20));
        remember(&cache, after);
        assert!(cache.look((Cursor::First, 20)).1.is_some());
    }
}
