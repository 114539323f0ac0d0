//! Sitemaps as built, kept a while, and built one at a time. A sitemap of 50,000 URLs is a read
//! of 50,000 rows and a body of megabytes; crawlers (and anyone) may ask for many at once, and
//! unbounded, they took the pool's connections and both cores from every other page (issue 25).
//! So each process builds at most [`BUILDERS`] at once (a request waits for its turn holding no
//! connection) and keeps what it built for [`TTL`], within [`CAPACITY`] bytes. Crawlers are
//! told they may keep a sitemap an hour (`Cache-Control`), so minutes of staleness are fine.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Semaphore;

/// How long a built sitemap is served as it is.
pub const TTL: Duration = Duration::from_secs(300);
/// Bytes of sitemaps kept at most (a full sitemap of compositions is about 6 MB).
pub const CAPACITY: usize = 32 * 1024 * 1024;
/// Sitemaps built at once by a process: one connection of the pool, one core.
pub const BUILDERS: usize = 1;

struct Kept {
    at: Instant,
    body: Bytes,
}

#[derive(Default)]
struct Shelf {
    kept: HashMap<String, Kept>,
    bytes: usize,
}

impl Shelf {
    fn remove(&mut self, key: &str) {
        if let Some(old) = self.kept.remove(key) {
            self.bytes -= old.body.len();
        }
    }
}

pub struct Built {
    shelf: Mutex<Shelf>,
    builds: Semaphore,
    ttl: Duration,
    capacity: usize,
}

impl Default for Built {
    fn default() -> Self {
        Built::new(TTL, CAPACITY, BUILDERS)
    }
}

impl Built {
    pub fn new(ttl: Duration, capacity: usize, builders: usize) -> Self {
        Built {
            shelf: Mutex::default(),
            builds: Semaphore::new(builders),
            ttl,
            capacity,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Shelf> {
        self.shelf.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fresh(&self, key: &str) -> Option<Bytes> {
        let shelf = self.lock();
        let kept = shelf.kept.get(key)?;
        (kept.at.elapsed() < self.ttl).then(|| kept.body.clone())
    }

    /// The body kept under `key` while fresh; else `build` runs, when no more than
    /// `builders - 1` other builds are running, and what it makes is kept. An error is not kept.
    pub async fn get_or_build<E, F, Fut>(&self, key: &str, build: F) -> Result<Bytes, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, E>>,
    {
        if let Some(body) = self.fresh(key) {
            return Ok(body);
        }
        let _turn = self
            .builds
            .acquire()
            .await
            .expect("the semaphore is never closed");
        // Whoever had the turn before may have built this one.
        if let Some(body) = self.fresh(key) {
            return Ok(body);
        }
        let body = build().await?;
        self.keep(key, body.clone());
        Ok(body)
    }

    fn keep(&self, key: &str, body: Bytes) {
        let mut shelf = self.lock();
        shelf.remove(key);
        if body.len() > self.capacity {
            return;
        }
        let ttl = self.ttl;
        let expired: Vec<String> = shelf
            .kept
            .iter()
            .filter(|(_, k)| k.at.elapsed() >= ttl)
            .map(|(key, _)| key.clone())
            .collect();
        for key in expired {
            shelf.remove(&key);
        }
        // Then the oldest, until the new one fits.
        while shelf.bytes + body.len() > self.capacity {
            let Some(oldest) = shelf
                .kept
                .iter()
                .min_by_key(|(_, k)| k.at)
                .map(|(key, _)| key.clone())
            else {
                break;
            };
            shelf.remove(&oldest);
        }
        shelf.bytes += body.len();
        shelf.kept.insert(
            key.to_owned(),
            Kept {
                at: Instant::now(),
                body,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A build that takes a moment and counts how many run at once.
    async fn counted(running: &AtomicUsize, most: &AtomicUsize, body: &str) -> Result<Bytes, ()> {
        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
        most.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        running.fetch_sub(1, Ordering::SeqCst);
        Ok(Bytes::from(body.to_owned()))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_requests_build_one_sitemap_at_a_time_and_each_once() {
        let built = Arc::new(Built::new(TTL, CAPACITY, 1));
        let (running, most, builds) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        let mut tasks = Vec::new();
        // Eight clients, two of each of four sitemaps.
        for n in 0..8 {
            let (built, running, most, builds) =
                (built.clone(), running.clone(), most.clone(), builds.clone());
            tasks.push(tokio::spawn(async move {
                let key = format!("compositions-{}", n % 4);
                built
                    .get_or_build(&key, || async {
                        builds.fetch_add(1, Ordering::SeqCst);
                        counted(&running, &most, &key).await
                    })
                    .await
                    .map(|body| (key, body))
            }));
        }
        for task in tasks {
            let (key, body) = task.await.unwrap().unwrap();
            assert_eq!(body, key.as_bytes());
        }
        assert_eq!(most.load(Ordering::SeqCst), 1, "never two builds at once");
        assert_eq!(builds.load(Ordering::SeqCst), 4, "each sitemap built once");
    }

    #[tokio::test]
    async fn a_kept_sitemap_is_served_until_it_expires_and_an_error_is_not_kept() {
        let built = Built::new(Duration::from_millis(50), CAPACITY, 1);
        let first = built
            .get_or_build("users-0", || async { Ok::<_, ()>(Bytes::from("one")) })
            .await;
        assert_eq!(first.unwrap(), "one");
        let kept = built
            .get_or_build("users-0", || async { Ok::<_, ()>(Bytes::from("two")) })
            .await;
        assert_eq!(kept.unwrap(), "one");
        tokio::time::sleep(Duration::from_millis(60)).await;
        let failed = built
            .get_or_build("users-0", || async { Err::<Bytes, _>("down") })
            .await;
        assert_eq!(failed, Err("down"));
        let rebuilt = built
            .get_or_build("users-0", || async { Ok::<_, ()>(Bytes::from("three")) })
            .await;
        assert_eq!(rebuilt.unwrap(), "three");
    }

    #[tokio::test]
    async fn what_is_kept_stays_within_the_capacity_the_oldest_going_first() {
        let built = Built::new(TTL, 10, 1);
        for (key, body) in [("a", "1234"), ("b", "5678"), ("c", "90ab")] {
            built
                .get_or_build(key, || async { Ok::<_, ()>(Bytes::from(body)) })
                .await
                .unwrap();
            // Distinct instants, so "oldest" is well defined.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(built.lock().bytes, 8);
        assert!(built.fresh("a").is_none(), "the oldest made room");
        assert_eq!(built.fresh("b").unwrap(), "5678");
        assert_eq!(built.fresh("c").unwrap(), "90ab");
        // Larger than the whole capacity: served, never kept.
        let big = built
            .get_or_build("d", || async { Ok::<_, ()>(Bytes::from("x".repeat(11))) })
            .await
            .unwrap();
        assert_eq!(big.len(), 11);
        assert!(built.fresh("d").is_none());
        assert_eq!(built.lock().bytes, 8);
    }
}
