//! A count that is expensive to keep asking for: `COUNT(*)` over every composition grows with
//! the table, yet the home page needs it only to number its pages. Each process keeps the
//! last answer for a few seconds; writes made by this process forget it at once, and other
//! processes catch up within the time to live. The items on a page are never cached.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sea_orm::DbErr;

pub struct CachedCount {
    ttl: Duration,
    slot: Mutex<Option<(Instant, u64)>>,
}

impl CachedCount {
    pub fn new(ttl: Duration) -> Self {
        CachedCount {
            ttl,
            slot: Mutex::new(None),
        }
    }

    /// The cached value while it is fresh; otherwise `load` it and remember it.
    pub async fn get<F>(&self, load: F) -> Result<u64, DbErr>
    where
        F: Future<Output = Result<u64, DbErr>>,
    {
        if let Some((at, value)) = *self.lock()
            && at.elapsed() < self.ttl
        {
            return Ok(value);
        }
        let value = load.await?;
        *self.lock() = Some((Instant::now(), value));
        Ok(value)
    }

    /// Forget the value (after a write that changes it).
    pub fn invalidate(&self) {
        *self.lock() = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Instant, u64)>> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_fresh_value_is_reused_and_an_invalidated_one_reloaded() {
        let cache = CachedCount::new(Duration::from_secs(60));
        assert_eq!(cache.get(async { Ok(1) }).await, Ok(1));
        assert_eq!(cache.get(async { Ok(2) }).await, Ok(1), "cached");
        cache.invalidate();
        assert_eq!(cache.get(async { Ok(3) }).await, Ok(3));
        let expired = CachedCount::new(Duration::ZERO);
        expired.get(async { Ok(1) }).await.unwrap();
        assert_eq!(expired.get(async { Ok(2) }).await, Ok(2), "expired");
    }
}
