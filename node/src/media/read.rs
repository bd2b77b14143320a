//! Reading files out of IPFS: resolving `<cid>/<path>`, byte ranges (video
//! seeking), blocks fetched from peers when missing, and every block checked
//! against its CID before a byte of it is served.

use std::ops::Range;
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use rust_ipfs::unixfs::ll::file::visit::IdleFileVisit;
use rust_ipfs::{Block, Ipfs, IpfsPath, PeerId};

use super::MediaError;
use cid::Cid;

/// Blocks asked for ahead of the one being read (bitswap round trips overlap).
const WINDOW: usize = 16;

/// A file found in IPFS, ready to be read.
#[derive(Debug, Clone)]
pub struct OpenFile {
    /// The file's own CID (the path's target).
    pub cid: Cid,
    /// Its size in bytes.
    pub size: u64,
    root: Block,
    providers: Vec<PeerId>,
    timeout: Duration,
}

/// The segments of a path inside a directory, refused when they could
/// name anything but a child: empty, `.`, `..`, or with `\` or NUL.
pub fn check_path(path: &str) -> Result<Vec<String>, MediaError> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    path.trim_end_matches('/')
        .split('/')
        .map(|s| {
            if s.is_empty() || s == "." || s == ".." || s.contains(['\\', '\0']) || s.len() > 255 {
                Err(MediaError::BadPath(path.chars().take(200).collect()))
            } else {
                Ok(s.to_string())
            }
        })
        .collect()
}

/// Resolves `cid/segments` to a file and reads its root block (from peers
/// if need be, within `timeout`).
pub(super) async fn open(
    ipfs: &Ipfs,
    cid: Cid,
    segments: &[String],
    providers: Vec<PeerId>,
    timeout: Duration,
) -> Result<OpenFile, MediaError> {
    let target = if segments.is_empty() {
        cid
    } else {
        let path = IpfsPath::from(cid)
            .sub_path(&segments.join("/"))
            .map_err(|_| MediaError::BadPath(segments.join("/")))?;
        let resolved =
            tokio::time::timeout(timeout, ipfs.dag().resolve(path, true, &providers, false))
                .await
                .map_err(|_| MediaError::Unavailable(cid.to_string()))?;
        match resolved {
            Ok((node, rest)) if rest.is_empty() => *node.source(),
            Ok(_) | Err(_) => return Err(MediaError::NotFound(segments.join("/"))),
        }
    };
    let root = block(ipfs, target, &providers, timeout).await?;
    let size = match target.codec() {
        0x55 => root.data().len() as u64,
        0x70 => {
            let visit = IdleFileVisit::default().with_target_range(0..0);
            match visit.start(root.data()) {
                Ok((_, size, _, _)) => size,
                Err(e) => {
                    return Err(if is_directory(&e) {
                        MediaError::IsDirectory(target.to_string())
                    } else {
                        MediaError::NotAFile(target.to_string())
                    });
                }
            }
        }
        _ => return Err(MediaError::NotAFile(target.to_string())),
    };
    Ok(OpenFile {
        cid: target,
        size,
        root,
        providers,
        timeout,
    })
}

fn is_directory(e: &rust_ipfs::unixfs::ll::file::FileReadFailed) -> bool {
    use rust_ipfs::unixfs::ll::file::FileReadFailed;
    matches!(e, FileReadFailed::UnexpectedType(t) if t.is_directory())
}

/// One block, local or from peers, verified against its CID.
pub(super) async fn block(
    ipfs: &Ipfs,
    cid: Cid,
    providers: &[PeerId],
    timeout: Duration,
) -> Result<Block, MediaError> {
    let block = ipfs
        .get_block(cid)
        .providers(providers)
        .timeout(timeout)
        .await
        .map_err(|_| MediaError::Unavailable(cid.to_string()))?;
    block
        .verify()
        .map_err(|_| MediaError::Corrupt(cid.to_string()))?;
    Ok(block)
}

impl OpenFile {
    /// The bytes of `range` (clamped to the file), in order.
    pub fn read(
        &self,
        ipfs: Ipfs,
        range: Range<u64>,
    ) -> impl Stream<Item = Result<Bytes, MediaError>> + Send + 'static {
        let file = self.clone();
        async_stream::try_stream! {
            let range = range.start.min(file.size)..range.end.min(file.size);
            if range.is_empty() {
                return;
            }
            let visit = IdleFileVisit::default().with_target_range(range.clone());
            if file.cid.codec() == 0x55 {
                let (bytes, _, _, _) = visit.start_from_raw(file.root.data());
                yield Bytes::copy_from_slice(bytes);
                return;
            }
            let (first, _, _, next) = visit
                .start(file.root.data())
                .map_err(|_| MediaError::Corrupt(file.cid.to_string()))?;
            if !first.is_empty() {
                yield Bytes::copy_from_slice(first);
            }
            let Some(mut visit) = next else { return };
            let mut cache = None;
            let mut ahead = Ahead::default();
            loop {
                let wanted: Vec<Cid> = {
                    let (first, rest) = visit.pending_links();
                    std::iter::once(first).chain(rest).take(WINDOW).copied().collect()
                };
                let next_cid = wanted[0];
                // Keep WINDOW fetches in flight, in the order they are read.
                for cid in &wanted {
                    if !ahead.0.iter().any(|(c, _)| c == cid) {
                        let (ipfs, cid, providers, timeout) =
                            (ipfs.clone(), *cid, file.providers.clone(), file.timeout);
                        ahead.0.push_back((
                            cid,
                            tokio::spawn(async move { block(&ipfs, cid, &providers, timeout).await }),
                        ));
                    }
                }
                let position = ahead.0.iter().position(|(c, _)| *c == next_cid);
                let block = match position.and_then(|i| ahead.0.remove(i)) {
                    Some((_, task)) => task
                        .await
                        .map_err(|_| MediaError::Unavailable(next_cid.to_string()))??,
                    None => block(&ipfs, next_cid, &file.providers, file.timeout).await?,
                };
                let (bytes, following) = visit
                    .continue_walk(block.data(), &mut cache)
                    .map_err(|_| MediaError::Corrupt(next_cid.to_string()))?;
                if !bytes.is_empty() {
                    yield Bytes::copy_from_slice(bytes);
                }
                match following {
                    Some(v) => visit = v,
                    None => break,
                }
            }
        }
    }
}

/// Block fetches running ahead of the reader; stopped when the reader is
/// dropped (a client that closes the connection mid-video).
#[derive(Default)]
struct Ahead(std::collections::VecDeque<(Cid, tokio::task::JoinHandle<Result<Block, MediaError>>)>);

impl Drop for Ahead {
    fn drop(&mut self) {
        for (_, task) in &self.0 {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_only_children() {
        assert_eq!(check_path("").unwrap(), Vec::<String>::new());
        assert_eq!(check_path("a/b.jpg").unwrap(), vec!["a", "b.jpg"]);
        assert_eq!(check_path("a/").unwrap(), vec!["a"]);
        for bad in ["../etc/passwd", "a/../b", "./a", "a//b", "a\\b", "a\0"] {
            assert!(
                matches!(check_path(bad), Err(MediaError::BadPath(_))),
                "{bad:?}"
            );
        }
    }
}
