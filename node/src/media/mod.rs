//! Media: the pictures, clips and voice notes that posts, stories, profiles
//! and listings point at, kept in IPFS and addressed by CID.
//!
//! - [`probe`] knows media bytes: the type from the bytes, size limits,
//!   metadata removal, thumbnails, ffmpeg.
//! - [`Media`] is the node's service on top of rust-ipfs: adding an upload
//!   (checked, cleaned, stored and pinned before anything is said about it),
//!   a bounded processing queue that survives restarts, status updates,
//!   pins with a policy and a quota, garbage collection, and reading files
//!   by range, fetched from peers when missing.
//!
//! The service keeps its records in its own sled database,
//! `<data dir>/media/db`: one tree with `r<cid>` records, `q<seq>` queue
//! entries and `p<cid>` pins, written together in one batch.

pub mod probe;
mod read;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use rust_ipfs::unixfs::UnixfsStatus;
use rust_ipfs::{Ipfs, PeerId};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, broadcast};

pub use read::{OpenFile, check_path};

use crate::config::MediaSection;
use crate::protocol::PublicKey;
use crate::protocol::media::{MediaClass, MediaDescriptor, Rendition};
use cid::Cid;
use probe::{Ffmpeg, Limits, ProbeError, Sniffed};

/// Thumbnail and rendition files of one upload, at most.
const MAX_DERIVED: usize = 4;
/// Waveform slices for audio.
const WAVEFORM_SLICES: usize = 64;
/// How long looking up providers in the DHT may take before a fetch starts.
const PROVIDER_LOOKUP: Duration = Duration::from_secs(5);
/// Attempts at fetching a missing file.
const FETCH_ATTEMPTS: u32 = 3;

/// Why a media operation failed. Each has a stable [`MediaError::code`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// The bytes were refused (type, size, corrupt, bomb…).
    #[error(transparent)]
    Probe(#[from] ProbeError),
    /// Too many uploads wait for processing.
    #[error("too many uploads are waiting to be processed; try again in a few minutes")]
    Busy,
    /// No such file, here or from peers within the time allowed.
    #[error("{0} could not be found here or from peers in time")]
    Unavailable(String),
    /// A stored block does not hash to its CID.
    #[error("the block {0} does not match its CID; it is not served")]
    Corrupt(String),
    /// A path inside a directory that could name something else.
    #[error("bad path {0:?}: only names of children, no '.', '..' or empty segments")]
    BadPath(String),
    /// The path names nothing in the directory.
    #[error("nothing at {0:?} in that directory")]
    NotFound(String),
    /// The CID is a directory, not a file.
    #[error("{0} is a directory")]
    IsDirectory(String),
    /// The CID is neither a UnixFS file nor a raw block.
    #[error("{0} is not a file")]
    NotAFile(String),
    /// The node has no record of that upload.
    #[error("no upload {0} on this node")]
    UnknownUpload(String),
    /// Storing failed.
    #[error("storage failed: {0}")]
    Storage(String),
}

impl MediaError {
    /// A short stable code for APIs.
    pub fn code(&self) -> &'static str {
        match self {
            MediaError::Probe(e) => e.code(),
            MediaError::Busy => "media_busy",
            MediaError::Unavailable(_) => "media_unavailable",
            MediaError::Corrupt(_) => "media_corrupt",
            MediaError::BadPath(_) => "bad_path",
            MediaError::NotFound(_) => "not_found",
            MediaError::IsDirectory(_) => "is_directory",
            MediaError::NotAFile(_) => "not_a_file",
            MediaError::UnknownUpload(_) => "unknown_upload",
            MediaError::Storage(_) => "storage",
        }
    }
}

impl From<sled::Error> for MediaError {
    fn from(e: sled::Error) -> Self {
        MediaError::Storage(e.to_string())
    }
}

/// Where an upload is in processing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Status {
    /// Waiting in the queue.
    Queued,
    /// Being processed.
    Processing,
    /// Done: the descriptor is final.
    Ready,
    /// Processing failed; the original is stored and usable as it is.
    Failed {
        /// Stable code.
        code: String,
        /// What went wrong.
        message: String,
    },
}

/// A file made from an upload: a thumbnail, a poster or a rendition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Derived {
    /// `small`, `medium`, `large`, `poster`, `webp`, `480p`, `720p`.
    pub name: String,
    /// CID of the file.
    pub cid: String,
    /// Its MIME type.
    pub mime: String,
    /// Its size in bytes.
    pub size: u64,
    /// Width in pixels.
    pub width: Option<u32>,
    /// Height in pixels.
    pub height: Option<u32>,
}

/// What the node knows of one upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaRecord {
    /// CID of the stored original (metadata removed for images).
    pub cid: String,
    /// MIME type, from the bytes.
    pub mime: String,
    /// `image`, `audio` or `video`.
    pub class: String,
    /// Size in bytes.
    pub size: u64,
    /// Width in pixels (images, video).
    pub width: Option<u32>,
    /// Height in pixels.
    pub height: Option<u32>,
    /// Duration (audio, video).
    pub duration_ms: Option<u64>,
    /// Thumbnails (and a video's poster), smallest first.
    pub thumbs: Vec<Derived>,
    /// Renditions for playback or display.
    pub renditions: Vec<Derived>,
    /// Audio loudness outline.
    pub waveform: Option<Vec<u8>>,
    /// Processing state.
    pub status: Status,
    /// Identities that uploaded it.
    pub owners: Vec<String>,
    /// When it was first added (ms).
    pub added_at: u64,
    /// Metadata (EXIF, GPS, XMP) was found and removed.
    pub metadata_removed: bool,
    /// Things the uploader should know (`ffmpeg_missing`).
    pub warnings: Vec<String>,
}

impl MediaRecord {
    /// The descriptor events carry.
    pub fn descriptor(&self) -> MediaDescriptor {
        let cid = |d: &Derived| d.cid.parse::<Cid>().ok();
        MediaDescriptor {
            cid: self.cid.parse().unwrap_or_default(),
            mime: self.mime.clone(),
            size: self.size,
            width: self.width,
            height: self.height,
            duration_ms: self.duration_ms,
            thumbs: self.thumbs.iter().filter_map(cid).take(4).collect(),
            alt: None,
            renditions: self
                .renditions
                .iter()
                .filter_map(|d| {
                    Some(Rendition {
                        cid: cid(d)?,
                        mime: d.mime.clone(),
                        size: d.size,
                        width: d.width,
                        height: d.height,
                    })
                })
                .take(4)
                .collect(),
            waveform: self.waveform.clone(),
        }
    }

    fn class(&self) -> MediaClass {
        match self.class.as_str() {
            "image" => MediaClass::Image,
            "audio" => MediaClass::Audio,
            _ => MediaClass::Video,
        }
    }
}

fn class_name(class: MediaClass) -> &'static str {
    match class {
        MediaClass::Image => "image",
        MediaClass::Audio => "audio",
        MediaClass::Video => "video",
    }
}

/// Why a CID is pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PinReason {
    /// Uploaded by one of this node's people (or made from such an upload).
    Own,
    /// Posted by someone this node's people follow (the `pin_followed` policy).
    Followed,
}

/// A pin the node keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// The pinned CID (recursive pin).
    pub cid: String,
    /// Why.
    pub reason: PinReason,
    /// Size of the file, bytes.
    pub size: u64,
    /// When it was pinned (ms).
    pub pinned_at: u64,
}

/// A change of an upload's status, for live clients.
#[derive(Debug, Clone)]
pub struct StatusUpdate {
    /// The upload.
    pub record: MediaRecord,
}

/// What a garbage collection removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GcReport {
    /// Blocks removed.
    pub blocks: usize,
    /// Followed-account pins dropped to fit the quota first.
    pub unpinned: usize,
}

/// The node's media service.
#[derive(Debug, Clone)]
pub struct Media {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    ipfs: Ipfs,
    tree: sled::Tree,
    _db: sled::Db,
    limits: Limits,
    ffmpeg: Option<Ffmpeg>,
    work: PathBuf,
    queue_cap: usize,
    wake: Notify,
    updates: broadcast::Sender<StatusUpdate>,
    fetch_timeout: Duration,
    pin_followed: bool,
    followed_quota: u64,
}

fn record_key(cid: &str) -> Vec<u8> {
    [b"r", cid.as_bytes()].concat()
}

fn pin_key(cid: &str) -> Vec<u8> {
    [b"p", cid.as_bytes()].concat()
}

fn json<T: Serialize>(v: &T) -> Result<Vec<u8>, MediaError> {
    serde_json::to_vec(v).map_err(|e| MediaError::Storage(e.to_string()))
}

fn parse<T: for<'de> Deserialize<'de>>(v: &[u8]) -> Result<T, MediaError> {
    serde_json::from_slice(v).map_err(|e| MediaError::Storage(format!("bad media record: {e}")))
}

impl Media {
    /// Opens the service's database under `<data_dir>/media`, looks for
    /// ffmpeg, and starts the processing worker.
    pub async fn start(
        data_dir: &Path,
        ipfs: Ipfs,
        config: &MediaSection,
    ) -> anyhow::Result<Media> {
        let dir = data_dir.join("media");
        let work = dir.join("work");
        tokio::fs::create_dir_all(&work).await?;
        let db_dir = dir.join("db");
        let db = tokio::task::spawn_blocking(move || {
            kith_storage::open_sled(sled::Config::new(), &db_dir)
        })
        .await??;
        let tree = db.open_tree("media")?;
        let ffmpeg = Ffmpeg::detect(&config.ffmpeg, &config.ffprobe).await;
        if ffmpeg.is_none() {
            tracing::warn!(
                ffmpeg = %config.ffmpeg.display(),
                "ffmpeg was not found: video and audio uploads are stored as they are, \
                 without duration, poster, renditions or waveform (install ffmpeg to get them)"
            );
        }
        let ffmpeg =
            ffmpeg.map(|f| f.with_timeout(Duration::from_secs(config.process_timeout_secs)));
        let mb = 1_000_000;
        let media = Media {
            inner: Arc::new(Inner {
                ipfs,
                tree,
                _db: db,
                limits: Limits {
                    image: config.image_max_mb * mb,
                    audio: config.audio_max_mb * mb,
                    video: config.video_max_mb * mb,
                },
                ffmpeg,
                work,
                queue_cap: config.queue.max(1),
                wake: Notify::new(),
                updates: broadcast::channel(256).0,
                fetch_timeout: Duration::from_secs(config.fetch_timeout_secs.max(1)),
                pin_followed: config.pin_followed,
                followed_quota: config.followed_quota_mb * mb,
            }),
        };
        Ok(media)
    }

    /// Runs the processing worker until the node stops (spawned by the node).
    pub async fn run_worker(self) {
        loop {
            let next = self.next_job();
            match next {
                Ok(Some((key, cid))) => {
                    self.process(&cid).await;
                    if let Err(e) = self.inner.tree.remove(key) {
                        tracing::error!(error = %e, "media queue");
                    }
                }
                Ok(None) => self.inner.wake.notified().await,
                Err(e) => {
                    tracing::error!(error = %e, "media queue unreadable; processing stops");
                    return;
                }
            }
        }
    }

    /// The upload limits.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Whether ffmpeg was found at start.
    pub fn has_ffmpeg(&self) -> bool {
        self.inner.ffmpeg.is_some()
    }

    /// Where uploads are written while they arrive (same file system as the
    /// work files, so they move without a copy).
    pub fn upload_dir(&self) -> &Path {
        &self.inner.work
    }

    /// Live status changes of uploads.
    pub fn updates(&self) -> broadcast::Receiver<StatusUpdate> {
        self.inner.updates.subscribe()
    }

    /// Adds an uploaded file for `owner`. The file (in [`Media::upload_dir`])
    /// is consumed. The type comes from the bytes; images lose their
    /// metadata before they are stored; nothing is stored when the file is
    /// refused. Processing continues in the background.
    pub async fn add_file(
        &self,
        upload: &Path,
        owner: &PublicKey,
    ) -> Result<MediaRecord, MediaError> {
        let result = self.add_file_inner(upload, owner).await;
        let _ = tokio::fs::remove_file(upload).await;
        result
    }

    async fn add_file_inner(
        &self,
        upload: &Path,
        owner: &PublicKey,
    ) -> Result<MediaRecord, MediaError> {
        let io = |e: std::io::Error| MediaError::Probe(ProbeError::from(e));
        let size = tokio::fs::metadata(upload).await.map_err(io)?.len();
        let head = {
            use tokio::io::AsyncReadExt;
            let mut f = tokio::fs::File::open(upload).await.map_err(io)?;
            let mut head = vec![0; 8192];
            let mut n = 0;
            while n < head.len() {
                let k = f.read(&mut head[n..]).await.map_err(io)?;
                if k == 0 {
                    break;
                }
                n += k;
            }
            head.truncate(n);
            head
        };
        let sniffed: Sniffed = probe::sniff(&head)?;
        probe::check_size(sniffed.class, size, &self.inner.limits)?;
        if self.queue_len() >= self.inner.queue_cap {
            return Err(MediaError::Busy);
        }
        let mut record = MediaRecord {
            cid: String::new(),
            mime: sniffed.mime.to_string(),
            class: class_name(sniffed.class).to_string(),
            size,
            width: None,
            height: None,
            duration_ms: None,
            thumbs: Vec::new(),
            renditions: Vec::new(),
            waveform: None,
            status: Status::Queued,
            owners: vec![owner.to_string()],
            added_at: crate::now_ms(),
            metadata_removed: false,
            warnings: Vec::new(),
        };
        let cid = match sniffed.class {
            MediaClass::Image => {
                let bytes = tokio::fs::read(upload).await.map_err(io)?;
                let s = sniffed.clone();
                let clean = tokio::task::spawn_blocking(move || probe::clean_image(&bytes, &s))
                    .await
                    .map_err(|e| MediaError::Storage(e.to_string()))??;
                record.width = Some(clean.width);
                record.height = Some(clean.height);
                record.size = clean.bytes.len() as u64;
                record.metadata_removed = clean.stripped;
                tokio::fs::write(upload, &clean.bytes).await.map_err(io)?;
                self.add_to_ipfs(upload).await?
            }
            MediaClass::Audio | MediaClass::Video => {
                match &self.inner.ffmpeg {
                    Some(ffmpeg) => {
                        let p = ffmpeg.probe(upload).await?;
                        record.duration_ms = p.duration_ms;
                        if sniffed.class == MediaClass::Video {
                            if !p.has_video {
                                return Err(
                                    ProbeError::corrupt("the file has no video stream").into()
                                );
                            }
                            record.width = p.width;
                            record.height = p.height;
                        } else if !p.has_audio {
                            return Err(ProbeError::corrupt("the file has no audio stream").into());
                        }
                    }
                    None => {
                        record.warnings.push("ffmpeg_missing".into());
                        record.status = Status::Ready;
                    }
                }
                match &self.inner.ffmpeg {
                    // Phone videos carry the place they were shot: the
                    // streams are kept untouched in a new container without
                    // the metadata, as images lose theirs.
                    Some(ffmpeg) => {
                        let out = upload.with_extension("clean");
                        tokio::fs::create_dir_all(&out).await.map_err(io)?;
                        let stored = async {
                            let clean = ffmpeg.strip_metadata(upload, &sniffed, &out).await?;
                            tokio::fs::rename(&clean, upload).await.map_err(io)?;
                            record.size = tokio::fs::metadata(upload).await.map_err(io)?.len();
                            record.metadata_removed = true;
                            self.add_to_ipfs(upload).await
                        }
                        .await;
                        let _ = tokio::fs::remove_dir_all(&out).await;
                        stored?
                    }
                    None => self.add_to_ipfs(upload).await?,
                }
            }
        };
        record.cid = cid.to_string();
        if let Some(existing) = self.record(&record.cid)? {
            // The same bytes again: one record, one more owner.
            let mut existing = existing;
            if !existing.owners.contains(&record.owners[0]) {
                existing.owners.push(record.owners[0].clone());
                self.inner
                    .tree
                    .insert(record_key(&existing.cid), json(&existing)?)?;
            }
            return Ok(existing);
        }
        let mut batch = sled::Batch::default();
        batch.insert(record_key(&record.cid), json(&record)?);
        batch.insert(
            pin_key(&record.cid),
            json(&Pin {
                cid: record.cid.clone(),
                reason: PinReason::Own,
                size: record.size,
                pinned_at: record.added_at,
            })?,
        );
        if record.status == Status::Queued {
            let work = self.inner.work.join(&record.cid);
            tokio::fs::rename(upload, &work).await.map_err(io)?;
            let seq = self.inner._db.generate_id()?;
            batch.insert(
                [b"q".as_slice(), &seq.to_be_bytes()].concat(),
                record.cid.as_bytes(),
            );
        }
        self.inner.tree.apply_batch(batch)?;
        self.inner.tree.flush_async().await?;
        self.inner.wake.notify_one();
        let ipfs = self.inner.ipfs.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(30), ipfs.provide(cid)).await;
        });
        Ok(record)
    }

    /// Adds a file to the block store, pinned; its root CID.
    async fn add_to_ipfs(&self, path: &Path) -> Result<Cid, MediaError> {
        self.add(path.to_path_buf().into()).await
    }

    /// Adds bytes that are already encrypted (a direct message's
    /// attachment) as they are: no probing, no record, pinned.
    pub async fn add_sealed(&self, bytes: Vec<u8>) -> Result<Cid, MediaError> {
        self.add_bytes(bytes).await
    }

    /// The whole of `cid` (at most `max` bytes): local blocks, else fetched
    /// from its providers and `author`'s hosts.
    pub async fn fetch_all(
        &self,
        cid: Cid,
        author: Option<&PublicKey>,
        max: u64,
    ) -> Result<Vec<u8>, MediaError> {
        let file = self.open(cid, &[], author).await?;
        if file.size > max {
            return Err(MediaError::Storage(format!(
                "{cid} is {} bytes, more than {max}",
                file.size
            )));
        }
        let mut out = Vec::with_capacity(file.size as usize);
        let mut chunks = std::pin::pin!(self.read(&file, 0..file.size));
        while let Some(chunk) = chunks.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    /// Adds bytes made here (a thumbnail, a poster) straight from memory.
    async fn add_bytes(&self, bytes: Vec<u8>) -> Result<Cid, MediaError> {
        self.add(bytes.into()).await
    }

    async fn add(&self, what: rust_ipfs::unixfs::AddOpt) -> Result<Cid, MediaError> {
        let mut status = self.inner.ipfs.add_unixfs(what).pin(true);
        while let Some(s) = status.next().await {
            match s {
                UnixfsStatus::CompletedStatus { path, .. } => {
                    return path
                        .root()
                        .cid()
                        .copied()
                        .ok_or_else(|| MediaError::Storage("add gave no CID".into()));
                }
                UnixfsStatus::FailedStatus { error, .. } => {
                    return Err(MediaError::Storage(error.to_string()));
                }
                UnixfsStatus::ProgressStatus { .. } => {}
            }
        }
        Err(MediaError::Storage("add ended without a result".into()))
    }

    fn queue_len(&self) -> usize {
        self.inner.tree.scan_prefix(b"q").count()
    }

    fn next_job(&self) -> Result<Option<(sled::IVec, String)>, MediaError> {
        match self.inner.tree.scan_prefix(b"q").next() {
            Some(row) => {
                let (k, v) = row?;
                Ok(Some((k, String::from_utf8_lossy(&v).into_owned())))
            }
            None => Ok(None),
        }
    }

    /// An upload's record.
    pub fn record(&self, cid: &str) -> Result<Option<MediaRecord>, MediaError> {
        self.inner
            .tree
            .get(record_key(cid))?
            .map(|v| parse(&v))
            .transpose()
    }

    fn save(&self, record: &MediaRecord) -> Result<(), MediaError> {
        self.inner
            .tree
            .insert(record_key(&record.cid), json(record)?)?;
        let _ = self.inner.updates.send(StatusUpdate {
            record: record.clone(),
        });
        Ok(())
    }

    async fn process(&self, cid: &str) {
        let Ok(Some(mut record)) = self.record(cid) else {
            return;
        };
        record.status = Status::Processing;
        if let Err(e) = self.save(&record) {
            tracing::error!(error = %e, "media record");
            return;
        }
        let work = self.inner.work.join(cid);
        let outcome = self.derive(&mut record, &work).await;
        record.status = match outcome {
            Ok(()) => Status::Ready,
            Err(e) => {
                tracing::warn!(cid, error = %e, "media processing failed; the original is kept");
                Status::Failed {
                    code: e.code().to_string(),
                    message: e.to_string(),
                }
            }
        };
        let _ = tokio::fs::remove_file(&work).await;
        let _ = tokio::fs::remove_dir_all(self.inner.work.join(format!("{cid}.out"))).await;
        if let Err(e) = self.save(&record) {
            tracing::error!(error = %e, "media record");
        }
    }

    /// Makes thumbnails, renditions and the waveform of one upload.
    async fn derive(&self, record: &mut MediaRecord, work: &Path) -> Result<(), MediaError> {
        if tokio::fs::metadata(work).await.is_err() {
            // The work file is gone (a crash between add and processing):
            // read the original back out of the block store.
            self.export(&record.cid, work).await?;
        }
        match record.class() {
            MediaClass::Image => {
                let bytes = tokio::fs::read(work)
                    .await
                    .map_err(|e| MediaError::Probe(e.into()))?;
                let made = tokio::task::spawn_blocking(move || probe::image_renditions(&bytes))
                    .await
                    .map_err(|e| MediaError::Storage(e.to_string()))??;
                for r in made {
                    let derived = self
                        .derived(r.name, r.mime, r.width, r.height, r.bytes)
                        .await?;
                    if derived.name == "webp" {
                        record.renditions.push(derived);
                    } else if record.thumbs.len() < MAX_DERIVED {
                        record.thumbs.push(derived);
                    }
                }
            }
            MediaClass::Audio => {
                let Some(ffmpeg) = &self.inner.ffmpeg else {
                    return Ok(());
                };
                record.waveform = Some(ffmpeg.waveform(work, WAVEFORM_SLICES).await?);
            }
            MediaClass::Video => {
                let Some(ffmpeg) = &self.inner.ffmpeg else {
                    return Ok(());
                };
                let out = self.inner.work.join(format!("{}.out", record.cid));
                tokio::fs::create_dir_all(&out)
                    .await
                    .map_err(|e| MediaError::Probe(e.into()))?;
                let poster = ffmpeg.poster(work, &out).await?;
                let poster_bytes = tokio::fs::read(&poster.path)
                    .await
                    .map_err(|e| MediaError::Probe(e.into()))?;
                let small = {
                    let b = poster_bytes.clone();
                    tokio::task::spawn_blocking(move || probe::image_renditions(&b))
                        .await
                        .map_err(|e| MediaError::Storage(e.to_string()))??
                };
                for r in small
                    .into_iter()
                    .filter(|r| r.name == "small" || r.name == "medium")
                {
                    let d = self
                        .derived(r.name, r.mime, r.width, r.height, r.bytes)
                        .await?;
                    record.thumbs.push(d);
                }
                let d = self
                    .derived(
                        "poster",
                        "image/jpeg",
                        poster.width,
                        poster.height,
                        poster_bytes,
                    )
                    .await?;
                record.thumbs.push(d);
                for height in [480, 720] {
                    if let Some((file, p)) = ffmpeg.video_rendition(work, height, &out).await? {
                        let size = tokio::fs::metadata(&file)
                            .await
                            .map_err(|e| MediaError::Probe(e.into()))?
                            .len();
                        let cid = self.add_to_ipfs(&file).await?;
                        record.renditions.push(Derived {
                            name: format!("{height}p"),
                            cid: cid.to_string(),
                            mime: "video/mp4".into(),
                            size,
                            width: p.width,
                            height: p.height,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    async fn derived(
        &self,
        name: &str,
        mime: &str,
        width: u32,
        height: u32,
        bytes: Vec<u8>,
    ) -> Result<Derived, MediaError> {
        let size = bytes.len() as u64;
        let cid = self.add_bytes(bytes).await?;
        Ok(Derived {
            name: name.to_string(),
            cid: cid.to_string(),
            mime: mime.to_string(),
            size,
            width: Some(width),
            height: Some(height),
        })
    }

    /// Writes a stored file out to `dest`.
    async fn export(&self, cid: &str, dest: &Path) -> Result<(), MediaError> {
        use tokio::io::AsyncWriteExt;
        let cid: Cid = cid
            .parse()
            .map_err(|_| MediaError::NotAFile(cid.to_string()))?;
        let file = self.open(cid, &[], None).await?;
        let mut out = tokio::fs::File::create(dest)
            .await
            .map_err(|e| MediaError::Probe(e.into()))?;
        let mut bytes = std::pin::pin!(file.read(self.inner.ipfs.clone(), 0..file.size));
        while let Some(chunk) = bytes.next().await {
            out.write_all(&chunk?)
                .await
                .map_err(|e| MediaError::Probe(e.into()))?;
        }
        out.flush().await.map_err(|e| MediaError::Probe(e.into()))
    }

    /// Opens `cid/segments` for reading: local blocks, else fetched from
    /// peers (the DHT's providers of the CID, and of `author`'s identity
    /// when given: the nodes that host them), within the fetch timeout.
    pub async fn open(
        &self,
        cid: Cid,
        segments: &[String],
        author: Option<&PublicKey>,
    ) -> Result<OpenFile, MediaError> {
        let local = self.inner.ipfs.repo().contains(&cid).await.unwrap_or(false);
        let providers = if local {
            Vec::new()
        } else {
            self.providers(cid, author).await
        };
        read::open(
            &self.inner.ipfs,
            cid,
            segments,
            providers,
            self.inner.fetch_timeout,
        )
        .await
    }

    /// Reads `range` of an open file.
    pub fn read(
        &self,
        file: &OpenFile,
        range: std::ops::Range<u64>,
    ) -> impl futures::Stream<Item = Result<bytes::Bytes, MediaError>> + Send + 'static {
        file.read(self.inner.ipfs.clone(), range)
    }

    /// Peers that have `cid` or host `author`, from kademlia provider
    /// records (bounded in time), the author's hosts first.
    async fn providers(&self, cid: Cid, author: Option<&PublicKey>) -> Vec<PeerId> {
        let ipfs = &self.inner.ipfs;
        let mut found: Vec<PeerId> = Vec::new();
        let mut lookups = Vec::new();
        if let Some(author) = author {
            lookups.push(
                ipfs.dht_get_providers(crate::topics::host_key(author))
                    .await,
            );
        }
        lookups.push(ipfs.get_providers(cid).await);
        for lookup in lookups {
            let Ok(mut stream) = lookup else { continue };
            let _ = tokio::time::timeout(PROVIDER_LOOKUP, async {
                while let Some(Ok(peers)) = stream.next().await {
                    for p in peers {
                        if !found.contains(&p) {
                            found.push(p);
                        }
                    }
                }
            })
            .await;
        }
        found
    }

    /// Media in an event by someone this node's people follow, as it
    /// arrives: with the `pin_followed` policy the whole file is fetched and
    /// pinned ([`Media::pin_followed`]); without it only the thumbnails are
    /// fetched ahead (unpinned, so garbage collection may take them back),
    /// so a feed shows them at once and the file itself comes on demand.
    pub async fn on_followed(
        &self,
        media: &MediaDescriptor,
        author: &PublicKey,
    ) -> Result<(), MediaError> {
        if self.inner.pin_followed {
            return self.pin_followed(media, author).await;
        }
        let Some(thumb) = media.thumbs.first() else {
            return Ok(());
        };
        if self
            .inner
            .ipfs
            .repo()
            .contains(thumb)
            .await
            .unwrap_or(false)
        {
            return Ok(());
        }
        let providers = self.providers(*thumb, Some(author)).await;
        self.inner
            .ipfs
            .fetch(thumb)
            .recursive()
            .providers(&providers)
            .timeout(self.inner.fetch_timeout)
            .await
            .map_err(|e| MediaError::Unavailable(format!("{thumb}: {e}")))
    }

    /// Fetches a whole file and pins it (the `pin_followed` policy), with
    /// retries; then drops the oldest followed pins beyond the quota.
    pub async fn pin_followed(
        &self,
        media: &MediaDescriptor,
        author: &PublicKey,
    ) -> Result<(), MediaError> {
        if !self.inner.pin_followed {
            return Ok(());
        }
        let key = media.cid.to_string();
        if self.inner.tree.contains_key(pin_key(&key))? {
            return Ok(());
        }
        let mut last = None;
        for attempt in 0..FETCH_ATTEMPTS {
            let providers = self.providers(media.cid, Some(author)).await;
            let r = self
                .inner
                .ipfs
                .insert_pin(media.cid)
                .recursive()
                .providers(&providers)
                .timeout(self.inner.fetch_timeout)
                .await;
            match r {
                Ok(()) => {
                    last = None;
                    break;
                }
                Err(e) => {
                    last = Some(e.to_string());
                    tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
                }
            }
        }
        if let Some(e) = last {
            return Err(MediaError::Unavailable(format!("{key}: {e}")));
        }
        self.inner.tree.insert(
            pin_key(&key),
            json(&Pin {
                cid: key,
                reason: PinReason::Followed,
                size: media.size,
                pinned_at: crate::now_ms(),
            })?,
        )?;
        self.enforce_quota().await?;
        Ok(())
    }

    /// Drops the oldest followed pins until they fit the quota.
    async fn enforce_quota(&self) -> Result<usize, MediaError> {
        let mut followed: Vec<Pin> = self
            .pins()?
            .into_iter()
            .filter(|p| p.reason == PinReason::Followed)
            .collect();
        followed.sort_by_key(|p| p.pinned_at);
        let mut total: u64 = followed.iter().map(|p| p.size).sum();
        let mut dropped = 0;
        for p in followed {
            if total <= self.inner.followed_quota {
                break;
            }
            if let Ok(cid) = p.cid.parse::<Cid>()
                && let Err(e) = self.inner.ipfs.remove_pin(cid).recursive().await
            {
                tracing::warn!(%cid, error = %e, "could not unpin");
            }
            self.inner.tree.remove(pin_key(&p.cid))?;
            total = total.saturating_sub(p.size);
            dropped += 1;
        }
        Ok(dropped)
    }

    /// Every pin the node keeps, its own first.
    pub fn pins(&self) -> Result<Vec<Pin>, MediaError> {
        let mut out = Vec::new();
        for row in self.inner.tree.scan_prefix(b"p") {
            let (_, v) = row?;
            out.push(parse::<Pin>(&v)?);
        }
        out.sort_by_key(|p| {
            (
                p.reason == PinReason::Followed,
                std::cmp::Reverse(p.pinned_at),
            )
        });
        Ok(out)
    }

    /// Removes every block no pin holds (after fitting followed pins to the
    /// quota).
    pub async fn gc(&self) -> Result<GcReport, MediaError> {
        let unpinned = self.enforce_quota().await?;
        let removed = self
            .inner
            .ipfs
            .gc()
            .await
            .map_err(|e| MediaError::Storage(e.to_string()))?;
        Ok(GcReport {
            blocks: removed.len(),
            unpinned,
        })
    }
}
