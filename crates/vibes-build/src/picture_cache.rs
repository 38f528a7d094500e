//! The cover pictures a build is embedding right now, read when a track needs one.
//!
//! A collection's covers do not fit in a worker's memory (3,000 albums of 2–5 MB scans are more
//! than its 8 GiB), so a build holds only the pictures of the tracks it is working on. Outputs
//! are made album after album and the tracks of an album share its cover, so a few recently
//! used pictures, kept by path, spare almost every read while memory stays bounded by the work
//! in flight instead of the size of the collection.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::picture::LoadedPicture;
use crate::source::Picture;

/// A least-recently-used set of at most `capacity` loaded pictures, shared by the build's
/// threads. A picture evicted while a track still uses it lives on until that track is done
/// (its bytes are shared), so at most `capacity` + the pictures of the tracks in flight are held.
pub struct PictureCache {
    capacity: usize,
    /// Most recently used first.
    entries: Mutex<VecDeque<(PathBuf, LoadedPicture)>>,
    loads: AtomicUsize,
}

impl PictureCache {
    /// Room for every thread's album with a front and a back cover, and the next album's.
    pub fn for_jobs(jobs: usize) -> Self {
        Self::new(2 * jobs.max(1) + 2)
    }

    pub fn new(capacity: usize) -> Self {
        PictureCache {
            capacity: capacity.max(1),
            entries: Mutex::new(VecDeque::new()),
            loads: AtomicUsize::new(0),
        }
    }

    /// The picture, from memory when a recent track used it, otherwise read from its file.
    pub fn get(&self, picture: &Picture) -> std::io::Result<LoadedPicture> {
        {
            let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(i) = entries.iter().position(|(path, _)| path == &picture.path) {
                let entry = entries.remove(i).expect("the position is in range");
                // The bytes are the file's; type and description are this use's (one file
                // may be both a front and a back cover, described differently).
                let loaded = LoadedPicture {
                    kind: picture.kind,
                    mime: picture.mime,
                    description: picture.description.clone(),
                    ..entry.1.clone()
                };
                entries.push_front(entry);
                return Ok(loaded);
            }
        }
        // Read without the lock, so that other threads' hits do not wait on the disk; two
        // threads missing the same picture at once both read it, which costs a read, not memory
        // beyond the bound.
        let loaded = LoadedPicture::load(picture)?;
        self.loads.fetch_add(1, Ordering::Relaxed);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if !entries.iter().any(|(path, _)| path == &picture.path) {
            entries.push_front((picture.path.clone(), loaded.clone()));
            entries.truncate(self.capacity);
        }
        Ok(loaded)
    }

    /// Files read so far.
    #[cfg(test)]
    pub fn loads(&self) -> usize {
        self.loads.load(Ordering::Relaxed)
    }

    /// Pictures kept for the next tracks.
    #[cfg(test)]
    pub fn held(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(dir: &std::path::Path, name: &str) -> Picture {
        let path = dir.join(name);
        std::fs::write(&path, name.as_bytes()).unwrap();
        Picture {
            kind: 3,
            mime: "image/jpeg",
            path,
            description: String::new(),
        }
    }

    #[test]
    fn an_album_s_tracks_read_its_cover_once() {
        let dir = tempfile::tempdir().unwrap();
        let a = picture(dir.path(), "a.jpeg");
        let cache = PictureCache::new(2);
        for _ in 0..10 {
            assert_eq!(&*cache.get(&a).unwrap().data, b"a.jpeg");
        }
        assert_eq!(cache.loads(), 1);
    }

    #[test]
    fn holds_at_most_its_capacity_dropping_the_least_recently_used() {
        let dir = tempfile::tempdir().unwrap();
        let pics: Vec<Picture> = (0..5)
            .map(|i| picture(dir.path(), &format!("{i}.jpeg")))
            .collect();
        let cache = PictureCache::new(2);
        for p in &pics {
            cache.get(p).unwrap();
            assert!(cache.held() <= 2);
        }
        assert_eq!(cache.loads(), 5);
        // 3 and 4 are kept; 0 was dropped and is read again.
        cache.get(&pics[4]).unwrap();
        cache.get(&pics[3]).unwrap();
        assert_eq!(cache.loads(), 5);
        cache.get(&pics[0]).unwrap();
        assert_eq!(cache.loads(), 6);
    }

    #[test]
    fn a_missing_file_is_an_error_and_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let gone = Picture {
            kind: 3,
            mime: "image/jpeg",
            path: dir.path().join("gone.jpeg"),
            description: String::new(),
        };
        let cache = PictureCache::new(2);
        assert!(cache.get(&gone).is_err());
        assert_eq!(cache.held(), 0);
    }
}
