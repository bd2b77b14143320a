use std::collections::VecDeque;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use asynchronous_codec::Framed;
use connexa::prelude::swarm::handler::{
    ConnectionEvent, DialUpgradeError, FullyNegotiatedInbound, FullyNegotiatedOutbound,
    StreamUpgradeError,
};
use connexa::prelude::swarm::{ConnectionHandler, ConnectionHandlerEvent, SubstreamProtocol};
use connexa::prelude::transport::upgrade::ReadyUpgrade;
use connexa::prelude::{Stream, StreamProtocol};
use futures::{SinkExt, StreamExt};

use super::{bitswap_pb, message::BitswapMessage};

const PROTOCOL: StreamProtocol = StreamProtocol::new("/ipfs/bitswap/1.2.0");
// KITH PATCH: 4 MiB like go-libp2p network.MessageSizeMax and Helia (was 2 MiB).
const MAX_BUF_SIZE: usize = 4 * 1024 * 1024;
const WRITE_ERROR_THRESHOLD: usize = 3;
const WRITE_ERROR_WINDOW: Duration = Duration::from_secs(30);

type Codec = quick_protobuf_codec::Codec<bitswap_pb::Message>;
type Channel = Framed<Stream, Codec>;

#[derive(Debug)]
pub enum FromBehaviour {
    Send(BitswapMessage),
}

#[derive(Debug)]
pub enum ToBehaviour {
    Ready,
    Unsupported,
    Failed,
    Message(BitswapMessage),
}

enum Outbound {
    /// No stream. One is requested as soon as there is something to send
    /// (and once at the start, to learn whether the peer speaks bitswap).
    None,
    Requested,
    /// A stream for the messages in the outbox; closed once they are flushed.
    Ready(Box<Channel>),
    Closing(Box<Channel>),
    Unsupported,
    Failed,
}

/// KITH PATCH (validation only): one outbound stream per batch of messages,
/// closed when flushed (receivers such as Helia reset a bitswap stream that
/// stays idle for 5 s), and every inbound stream read (Helia opens a new
/// stream for each message, several at once).
pub struct Handler {
    outbound: Outbound,
    probed: bool,
    announced: bool,
    inbound: Vec<Box<Channel>>,
    outbox: VecDeque<BitswapMessage>,
    write_errors: VecDeque<Instant>,
    pending: VecDeque<ToBehaviour>,
}

impl Default for Handler {
    fn default() -> Self {
        Self {
            outbound: Outbound::None,
            probed: false,
            announced: false,
            inbound: Vec::new(),
            outbox: VecDeque::new(),
            write_errors: VecDeque::new(),
            pending: VecDeque::new(),
        }
    }
}

fn note_write_error(write_errors: &mut VecDeque<Instant>) -> bool {
    let now = Instant::now();
    while let Some(&front) = write_errors.front() {
        if now.duration_since(front) > WRITE_ERROR_WINDOW {
            write_errors.pop_front();
        } else {
            break;
        }
    }
    write_errors.push_back(now);
    write_errors.len() >= WRITE_ERROR_THRESHOLD
}

const MAX_INBOUND_STREAMS: usize = 64;

impl ConnectionHandler for Handler {
    type FromBehaviour = FromBehaviour;
    type ToBehaviour = ToBehaviour;
    type InboundProtocol = ReadyUpgrade<StreamProtocol>;
    type OutboundProtocol = ReadyUpgrade<StreamProtocol>;
    type InboundOpenInfo = ();
    type OutboundOpenInfo = ();

    fn listen_protocol(&self) -> SubstreamProtocol<Self::InboundProtocol, Self::InboundOpenInfo> {
        SubstreamProtocol::new(ReadyUpgrade::new(PROTOCOL), ())
    }

    fn on_behaviour_event(&mut self, event: Self::FromBehaviour) {
        match event {
            FromBehaviour::Send(message) => self.outbox.push_back(message),
        }
    }

    fn on_connection_event(
        &mut self,
        event: ConnectionEvent<
            Self::InboundProtocol,
            Self::OutboundProtocol,
            Self::InboundOpenInfo,
            Self::OutboundOpenInfo,
        >,
    ) {
        match event {
            ConnectionEvent::FullyNegotiatedInbound(FullyNegotiatedInbound {
                protocol: stream,
                ..
            }) => {
                if self.inbound.len() >= MAX_INBOUND_STREAMS {
                    self.inbound.remove(0);
                }
                self.inbound
                    .push(Box::new(Framed::new(stream, Codec::new(MAX_BUF_SIZE))));
            }
            ConnectionEvent::FullyNegotiatedOutbound(FullyNegotiatedOutbound {
                protocol: stream,
                ..
            }) => {
                self.outbound =
                    Outbound::Ready(Box::new(Framed::new(stream, Codec::new(MAX_BUF_SIZE))));
                if !self.announced {
                    self.announced = true;
                    self.pending.push_back(ToBehaviour::Ready);
                }
            }
            ConnectionEvent::DialUpgradeError(DialUpgradeError { error, .. }) => {
                if matches!(error, StreamUpgradeError::NegotiationFailed) {
                    self.outbound = Outbound::Unsupported;
                    self.pending.push_back(ToBehaviour::Unsupported);
                } else {
                    // transient; poll re-requests
                    self.outbound = Outbound::None;
                }
            }
            _ => {}
        }
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<
        ConnectionHandlerEvent<Self::OutboundProtocol, Self::OutboundOpenInfo, Self::ToBehaviour>,
    > {
        if let Some(event) = self.pending.pop_front() {
            return Poll::Ready(ConnectionHandlerEvent::NotifyBehaviour(event));
        }

        if matches!(self.outbound, Outbound::None) && (!self.probed || !self.outbox.is_empty()) {
            self.probed = true;
            self.outbound = Outbound::Requested;
            return Poll::Ready(ConnectionHandlerEvent::OutboundSubstreamRequest {
                protocol: SubstreamProtocol::new(ReadyUpgrade::new(PROTOCOL), ()),
            });
        }

        let mut write_failed = false;
        let mut failed_for_good = false;
        if let Outbound::Ready(stream) = &mut self.outbound {
            while !self.outbox.is_empty() {
                match stream.poll_ready_unpin(cx) {
                    Poll::Ready(Ok(())) => {
                        let message = self.outbox.pop_front().expect("non-empty");
                        match message.into_proto() {
                            Ok(proto) => {
                                if stream.start_send_unpin(proto).is_err() {
                                    write_failed = true;
                                    break;
                                }
                            }
                            Err(e) => {
                                tracing::debug!(error=%e, "dropping unserializable bitswap message")
                            }
                        }
                    }
                    Poll::Ready(Err(_)) => {
                        write_failed = true;
                        break;
                    }
                    Poll::Pending => break,
                }
            }
            if !write_failed {
                match stream.poll_flush_unpin(cx) {
                    Poll::Ready(Ok(())) if self.outbox.is_empty() => {
                        let Outbound::Ready(stream) =
                            std::mem::replace(&mut self.outbound, Outbound::None)
                        else {
                            unreachable!()
                        };
                        self.outbound = Outbound::Closing(stream);
                    }
                    Poll::Ready(Err(_)) => write_failed = true,
                    _ => {}
                }
            }
            if write_failed {
                failed_for_good = note_write_error(&mut self.write_errors);
                self.outbound = Outbound::None;
            }
        }
        if let Outbound::Closing(stream) = &mut self.outbound {
            if let Poll::Ready(_) = stream.poll_close_unpin(cx) {
                self.outbound = Outbound::None;
                if !self.outbox.is_empty() {
                    cx.waker().wake_by_ref();
                }
            }
        }

        if failed_for_good {
            self.outbound = Outbound::Failed;
            return Poll::Ready(ConnectionHandlerEvent::NotifyBehaviour(ToBehaviour::Failed));
        }
        if write_failed {
            cx.waker().wake_by_ref();
        }

        let mut received = None;
        let mut i = 0;
        while i < self.inbound.len() {
            match self.inbound[i].poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(proto))) => match BitswapMessage::from_proto(proto) {
                    Ok(message) => {
                        received = Some(message);
                        break;
                    }
                    Err(e) => {
                        tracing::debug!(error=%e, "failed to parse inbound bitswap message");
                        continue;
                    }
                },
                Poll::Ready(Some(Err(_))) | Poll::Ready(None) => {
                    self.inbound.swap_remove(i);
                }
                Poll::Pending => i += 1,
            }
        }

        if let Some(message) = received {
            return Poll::Ready(ConnectionHandlerEvent::NotifyBehaviour(
                ToBehaviour::Message(message),
            ));
        }

        Poll::Pending
    }
}
