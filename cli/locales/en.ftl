# Messages of the `kith` command, in English.
# Each language has one file with the same message ids; see cli/src/i18n.rs.

identity-created = created identity { $identity }
identity-exists = identity { $identity } already exists
identity = identity { $identity }
identity-new = identity { $identity } (new)
data-dir = data dir { $path }
error-no-data-dir = no data directory: pass --data-dir or set KITH_DATA_DIR
error-cannot-access = cannot access { $path }: { $cause }
error-bad-key = { $path } does not hold a valid key: { $cause }
error-other = { $error }
up-peer-id = peer id { $peer }
up-listening = listening on { $addr }
up-gateway = Gateway (HTTP API): { $url }
up-running = running; press Ctrl-C to stop
up-stopping = stopping: finishing writes…
up-stopped = stopped
error-config = configuration: { $cause }

## Talking to a node

error-unreachable = cannot reach the node at { $url }: { $cause } (is `kith up` running?)
error-bad-response = unexpected answer from the node ({ $status }): { $cause }
id-account = account { $username }
id-admin = this node's own identity (admin token)
id-root-held = the node holds the root key
id-node = node { $url }
peers-none = no peers connected

## Posts and listings

event-header = { $author } · { $time }
event-reply-to = ↳ in reply to { $parent }
event-quote-of = ❝ quoting { $target }
event-repost-of = ↻ reposted { $target }
event-kind = ({ $kind })
event-media = { $count ->
        [one] 1 attachment
       *[other] { $count } attachments
    }
event-counts = { $replies ->
        [one] 1 reply
       *[other] { $replies } replies
    } · { $reactions ->
        [one] 1 reaction
       *[other] { $reactions } reactions
    } · { $reposts ->
        [one] 1 repost
       *[other] { $reposts } reposts
    }
event-id = id { $id }
post-published = published { $id }
reply-published = reply published { $id }
write-pending = the node keeps it until the event it refers to arrives
listing-empty = nothing here yet
listing-more = more: --cursor { $cursor }
progress-pages = { $pages ->
        [one] 1 page
       *[other] { $pages } pages
    } read, { $items ->
        [one] 1 item
       *[other] { $items } items
    }
thread-root-missing = (the first post, { $id }, has not reached this node)
thread-total = { $count ->
        [one] 1 reply in this thread
       *[other] { $count } replies in this thread
    }
thread-more = more: --after { $after }

## People

profile-name = name: { $name }
profile-langs = languages: { $langs }
profile-links = links: { $links }
profile-updated = profile updated { $id }
identity-counts = { $followers ->
        [one] 1 follower
       *[other] { $followers } followers
    } · { $following } following
identity-followed = you follow this identity
identity-hosted = hosted on this node
followed = now following { $key }
unfollowed = no longer following { $key }
blocked = blocked { $key }
unblocked = unblocked { $key }

## Keys

key-export-warning = anyone with this key can act as you: keep it safe and private
key-delegated = { $signer } may sign for you until { $until }; delegation { $id }
key-revoked = revoked delegation { $id }
key-revoked-compromised = revoked delegation { $id }; everything its key signed is void
key-none = no delegations
delegation-line = { $id } · key { $signer } · until { $until }
delegation-revoked = revoked
delegation-gateway = the gateway's key
trending-none = nothing trending yet
trending-line = #{ $tag } · { $authors ->
    [one] 1 person
   *[other] { $authors } people
} (previous window: { $previous })
search-none = nothing found
search-person = { $name } · { $key }
search-tag = #{ $tag } · { $posts ->
    [one] 1 post
   *[other] { $posts } posts
}
