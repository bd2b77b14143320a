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
up-relay = Nostr relay: { $url }
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

## Notifications

notify-none = no notifications
notify-unread = { $count ->
    [0] nothing unread
    [one] 1 unread
   *[other] { $count } unread
}
notify-read-all = all notifications marked read ({ $count } unread)
notify-reaction = { $others ->
    [0] { $who } reacted to your post
    [one] { $who } and 1 other reacted to your post
   *[other] { $who } and { $others } others reacted to your post
}
notify-reply = { $others ->
    [0] { $who } replied to your post
    [one] { $who } and 1 other replied to your post
   *[other] { $who } and { $others } others replied to your post
}
notify-mention = { $others ->
    [0] { $who } mentioned you
    [one] { $who } and 1 other mentioned you
   *[other] { $who } and { $others } others mentioned you
}
notify-repost = { $others ->
    [0] { $who } reposted your post
    [one] { $who } and 1 other reposted your post
   *[other] { $who } and { $others } others reposted your post
}
notify-quote = { $others ->
    [0] { $who } quoted your post
    [one] { $who } and 1 other quoted your post
   *[other] { $who } and { $others } others quoted your post
}
notify-follow = { $others ->
    [0] { $who } followed you
    [one] { $who } and 1 other followed you
   *[other] { $who } and { $others } others followed you
}
notify-story-view = { $others ->
    [0] { $who } viewed your story
    [one] { $who } and 1 other viewed your story
   *[other] { $who } and { $others } others viewed your story
}
notify-order = { $others ->
    [0] { $who } ordered from your listing
   *[other] { $who } and { $others } others ordered from your listing
}
notify-trade = { $who } moved your trade on
notify-review = { $who } reviewed your trade
notify-other = { $others ->
    [0] { $who }: { $type }
   *[other] { $who } and { $others } more: { $type }
}

## Suggestions and statistics (kith suggest, kith stats)

suggest-none = no suggestions yet: follow a few people first
suggest-line = { $name } · { $key } · { $followers ->
    [one] 1 follower
   *[other] { $followers } followers
}
stats-totals = last { $days ->
    [one] day
   *[other] { $days } days
}: { $posts ->
    [one] 1 post
   *[other] { $posts } posts
} · { $reactions ->
    [one] 1 reaction
   *[other] { $reactions } reactions
} · { $replies ->
    [one] 1 reply
   *[other] { $replies } replies
} · { $reposts ->
    [one] 1 repost or quote
   *[other] { $reposts } reposts and quotes
}
stats-followers = { $followers ->
    [one] 1 follower
   *[other] { $followers } followers
} (+{ $gained } / −{ $lost } in the period)
stats-story-views = { $views ->
    [one] 1 story view
   *[other] { $views } story views
}
stats-quiet = no engagement received in this period
stats-chart = engagement received per day (reactions, replies, reposts and quotes):
stats-top = top posts:
stats-top-line = { $engagement } · { $text } · { $id }

## Stories
story-published = Story published ({ $hours } h): { $id }
story-seen = Marked as seen.
story-seen-receipt = Marked as seen; the author was sent a view receipt.
story-viewers = { $count ->
    [one] 1 person viewed it:
   *[other] { $count } people viewed it:
}
story-receipts-on = View receipts are on: authors see that you viewed their stories.
story-receipts-off = View receipts are off.
highlight-published = Highlight “{ $name }” saved: { $id }
highlights-none = No highlights.
highlight-line = { $name } ({ $count ->
    [one] 1 story
   *[other] { $count } stories
})
stories-none = No stories right now.
stories-author = { $name } ({ $key }) · { $unseen } new
story-line = { $id } · until { $expires }

## Reactions, reposts, quotes and trimmed threads
event-reacted = you reacted { $reaction }
reaction-published = reacted { $reaction } to { $target }: { $id }
reaction-removed = removed your reaction { $reaction } to { $target }: { $id }
error-no-reaction = you have no reaction to { $target } to remove
repost-published = reposted { $target }: { $id }
quote-published = quote of { $target } published { $id }
thread-hidden = … { $count ->
        [one] 1 more reply
       *[other] { $count } more replies
    }: kith thread { $id } --from-here

## Media
media-processing = Processing (thumbnails, renditions)…
media-metadata-removed = Location and camera metadata were removed before storing.
media-processing-failed = Processing failed ({ $error }); the original is stored and can be posted as it is.
media-ffmpeg-missing = This node has no ffmpeg: the file is stored as it is, without duration, poster or renditions.
media-pin-own = own upload
media-pin-followed = followed account
media-pins-total = { $count ->
    [one] 1 pin
   *[other] { $count } pins
}
media-gc-done = Removed { $blocks } unpinned blocks ({ $unpinned } followed-account pins dropped to fit the quota).

# The Nostr bridge (kith nostr …, kith follow npub1…)
nostr-followed = now following Nostr key { $key }
nostr-unfollowed = no longer following Nostr key { $key }
nostr-linked = linked Nostr key: { $npub }
nostr-sent = sent to Nostr: { $id }
nostr-status-linked = linked Nostr key: { $npub }
nostr-status-unlinked = no linked Nostr key (kith nostr link makes one)
nostr-status-no-relays = no outside relays: your notes stay on this node's relay (kith nostr relays add wss://…)
nostr-status-relay = { $url } ({ $state }): { $sent } sent, { $pending } waiting, { $failed } failed
nostr-status-error = last error: { $error }
nostr-status-follow = following { $npub }
nostr-connected = connected
nostr-disconnected = not connected
nostr-note-header = { $author } · { $time } · Nostr { $relays }
nostr-note-id = note { $id }
nostr-reaction = reacted { $reaction } to { $target }

# Direct messages (kith dm, kith chats, kith chat, kith group)
dm-sent = sent, end-to-end encrypted: { $id }
chat-line = { $name } · { $unread } unread · { $last }
chats-none = no conversations yet (kith dm kith1… "hola" starts one)
chat-you = you
chat-deleted = (deleted)
chat-edited = (edited)
group-done = group { $id }

# The marketplace (kith market …, kith trade …)
market-none = no listings found
market-categories-none = the node offers no categories
market-listing-line = { $title } · { $price } · { $available ->
        [0] sold out
       *[other] { $available } available
    } · { $seller } · { $id }
market-withdrawn-tag = withdrawn
market-show-price = { $price } · { $condition } · { $category }
market-show-stock = { $available ->
        [0] sold out
       *[other] { $available } available
    } (of { $quantity })
market-show-seller = seller: { $seller }
market-reputation = reputation: ★ { $mean } ({ $count ->
        [one] 1 review
       *[other] { $count } reviews
    })
market-reputation-none = reputation: no reviews yet
market-show-location = location: { $location }
market-show-delivery = delivery: { $options }
market-show-payment = payment: { $options }
market-show-photos = { $count ->
        [one] 1 photo
       *[other] { $count } photos
    }
market-show-expires = on sale until { $time }
market-show-withdrawn = withdrawn by the seller: not for sale
market-show-dates = listed { $created } · updated { $updated }
market-show-id = id { $id } · version { $version }
market-show-order = to buy: { $command }
market-condition-new = new
market-condition-like_new = like new
market-condition-good = good
market-condition-fair = fair
market-condition-for_parts = for parts
market-delivery-pickup = pickup
market-delivery-shipping = shipping
market-payment-cash_on_pickup = cash on pickup
market-payment-bank_transfer = bank transfer
market-payment-payment_link = payment link
market-payment-other = other
market-listed = listed “{ $title }” at { $price }: { $id }
market-edited = updated “{ $title }” ({ $price }): { $id }
market-withdrawn = “{ $title }” is no longer for sale: { $id }
market-edit-nothing = nothing to change: give at least one field, such as --price or --quantity
market-price-not-a-number = “{ $price }” is not a price: write it like 12.50 or 1500 (a point before the decimals, no thousands separators)
market-price-negative = a price cannot be negative ({ $price })
market-price-decimals = { $price } has too many decimals: { $currency } has { $max ->
        [0] no decimals
        [one] 1 decimal
       *[other] { $max } decimals
    }
market-price-too-large = { $price } { $currency } is too large a price
trade-state-ordered = ordered
trade-state-accepted = accepted
trade-state-declined = declined
trade-state-paid = paid
trade-state-payment_confirmed = payment confirmed
trade-state-shipped = shipped
trade-state-delivered = delivered
trade-state-completed = completed
trade-state-cancelled = cancelled
trade-state-disputed = disputed
trade-state-resolved = resolved
trade-party-buyer = the buyer
trade-party-seller = the seller
trade-action-accepted = accept the order (reserves the units)
trade-action-declined = decline the order
trade-action-paid = say you have paid
trade-action-payment_confirmed = confirm the payment arrived
trade-action-shipped = say you shipped it (--tracking for the tracking number)
trade-action-delivered = say you have the item
trade-action-completed = confirm all went well: the trade is done
trade-action-cancelled = call the trade off
trade-action-disputed = say something went wrong
trade-action-resolved = say the dispute is settled
trade-action-review = rate the other party (1 to 5, --text for a few words)
trade-next = what you can do now:
trade-next-line = { $command } · { $action }
trade-waiting = nothing for you to do now: waiting for the other party
trade-with-seller = buying from { $name }
trade-with-buyer = selling to { $name }
trade-between = { $buyer } buys from { $seller }
trade-line = { $title } · { $state } · { $with } · { $time } · { $id }
trade-none = no trades
trade-more = more: --before { $before }
trade-show-title = { $title } · { $quantity } × { $price } = { $total }
trade-show-state = state: { $state }
trade-show-you-buy = you are the buyer; seller: { $seller }
trade-show-you-sell = you are the seller; buyer: { $buyer }
trade-show-parties = buyer: { $buyer } · seller: { $seller }
trade-show-terms = delivery: { $delivery } · payment: { $payment }
trade-history = history:
trade-history-line = { $time } · { $state } by { $by }
trade-history-note = note: { $note }
trade-history-tracking = tracking: { $tracking }
trade-details = details sent to the seller (only the two of you see them):
trade-reviews = reviews:
trade-show-dates = ordered { $created } · updated { $updated }
trade-show-id = trade { $id } · listing { $listing }
trade-ordered = ordered { $quantity } × “{ $title }” for { $total }: trade { $id }
trade-details-sent = your details were sent to the seller only, end-to-end encrypted
trade-now = trade { $id }: { $state }
trade-reviewed = review { $stars } published for trade { $id }
