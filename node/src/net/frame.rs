//! Frames on Kith's stream protocols: an unsigned-varint length, then that
//! many bytes (the framing js-libp2p's `it-length-prefixed` uses). A frame
//! longer than the protocol's limit ends the stream: the peer is lying or
//! broken, and reading on would let it make us buffer without bound.

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The stream failed.
    #[error("stream: {0}")]
    Io(#[from] std::io::Error),
    /// The announced length is over the limit.
    #[error("frame of {len} bytes is over the limit of {limit}")]
    TooLarge {
        /// Announced length.
        len: u64,
        /// The limit.
        limit: usize,
    },
    /// The length prefix is not a valid varint.
    #[error("bad length prefix")]
    BadPrefix,
}

/// Bytes a frame of `n` bytes takes on the stream, length prefix included.
pub fn wire_len(n: usize) -> u64 {
    let mut buf = unsigned_varint::encode::u64_buffer();
    (unsigned_varint::encode::u64(n as u64, &mut buf).len() + n) as u64
}

/// Writes one frame.
pub async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, data: &[u8]) -> Result<(), FrameError> {
    let mut buf = unsigned_varint::encode::u64_buffer();
    let prefix = unsigned_varint::encode::u64(data.len() as u64, &mut buf);
    w.write_all(prefix).await?;
    w.write_all(data).await?;
    w.flush().await?;
    Ok(())
}

/// Reads one frame of at most `limit` bytes; `None` at a clean end of stream.
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    limit: usize,
) -> Result<Option<Vec<u8>>, FrameError> {
    let mut len: u64 = 0;
    for i in 0..10 {
        let mut b = [0u8; 1];
        match r.read(&mut b).await? {
            0 if i == 0 => return Ok(None),
            0 => return Err(FrameError::Io(std::io::ErrorKind::UnexpectedEof.into())),
            _ => {}
        }
        // The tenth byte may only carry the top bit of a u64.
        if i == 9 && b[0] > 1 {
            return Err(FrameError::BadPrefix);
        }
        len |= u64::from(b[0] & 0x7f) << (7 * i);
        if b[0] & 0x80 == 0 {
            // Minimal encoding only: a trailing zero byte is a second spelling.
            if i > 0 && b[0] == 0 {
                return Err(FrameError::BadPrefix);
            }
            if len > limit as u64 {
                return Err(FrameError::TooLarge { len, limit });
            }
            let mut data = vec![0u8; len as usize];
            r.read_exact(&mut data).await?;
            return Ok(Some(data));
        }
    }
    Err(FrameError::BadPrefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        futures::executor::block_on(f)
    }

    #[test]
    fn frames_round_trip_and_limits_hold() {
        block_on(async {
            let mut buf = Vec::new();
            for n in [0usize, 1, 127, 128, 300, 70_000] {
                write_frame(&mut buf, &vec![7u8; n]).await.unwrap();
            }
            let mut r = futures::io::Cursor::new(buf.clone());
            for n in [0usize, 1, 127, 128, 300, 70_000] {
                assert_eq!(read_frame(&mut r, 1 << 20).await.unwrap().unwrap().len(), n);
            }
            assert!(read_frame(&mut r, 1 << 20).await.unwrap().is_none());

            let mut r = futures::io::Cursor::new(buf);
            for _ in 0..5 {
                read_frame(&mut r, 1000).await.unwrap();
            }
            assert!(matches!(
                read_frame(&mut r, 1000).await,
                Err(FrameError::TooLarge { len: 70_000, .. })
            ));
            // Non-minimal prefix, truncated body, endless prefix.
            let overflow = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02].to_vec();
            for bad in [vec![0x81, 0x00], vec![5, 1, 2], vec![0xff; 11], overflow] {
                let mut r = futures::io::Cursor::new(bad);
                assert!(read_frame(&mut r, 1000).await.is_err());
            }
        });
    }
}
